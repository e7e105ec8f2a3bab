import Foundation

/// `connector add|set|remove`: send connectors and their `TLSCertificateName`, validated like Set-SendConnector.
public struct ConnectorManager: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    public func connectors() throws -> [SendConnector] { try store.read(SendConnectors.self).sendConnectors }

    public func connector(named name: String) throws -> SendConnector {
        guard let connector = try store.read(SendConnectors.self).connector(named: name) else {
            throw CertStoreError.notFound("there is no send connector named \"\(name)\"", hint: "`certstore connector list` shows them")
        }
        return connector
    }

    /// Adds a connector (one operation, see `OperationOutcome`: it reports what the connector now presents); a name already used (case-insensitively, as Exchange compares) is an error.
    public func add(_ connector: SendConnector, now: Date = Date()) throws -> OperationOutcome<SendConnector> {
        let checked = try validated(connector)
        return try store.perform(now: now) {
            var document = try store.read(SendConnectors.self)
            if document.connector(named: checked.name) != nil {
                throw CertStoreError(.refused, "a send connector named \"\(checked.name)\" exists already",
                                     hint: "change it with `certstore connector set \(ShellQuote.quote(checked.name)) …`")
            }
            if let other = document.sendConnectors.first(where: { $0.slug == checked.slug }) {
                throw CertStoreError(.refused, "the send connector \"\(other.name)\" has the same postfix name (\(checked.slug)) as \"\(checked.name)\"",
                                     hint: "name it so that its letters and digits differ from \"\(other.name)\"'s")
            }
            document.sendConnectors.append(checked)
            try store.write(document)
            return checked
        }
    }

    /// Changes a connector in place with `change`.
    public func set(_ name: String, now: Date = Date(), _ change: (inout SendConnector) throws -> Void) throws -> OperationOutcome<SendConnector> {
        try store.perform(now: now) {
            var document = try store.read(SendConnectors.self)
            guard let index = document.sendConnectors.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw CertStoreError.notFound("there is no send connector named \"\(name)\"", hint: "`certstore connector list` shows them")
            }
            var connector = document.sendConnectors[index]
            try change(&connector)
            connector = try validated(connector)
            document.sendConnectors[index] = connector
            try store.write(document)
            return connector
        }
    }

    public func remove(_ name: String, now: Date = Date()) throws -> OperationOutcome<SendConnector> {
        try store.perform(now: now) {
            var document = try store.read(SendConnectors.self)
            guard let index = document.sendConnectors.firstIndex(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw CertStoreError.notFound("there is no send connector named \"\(name)\"")
            }
            let removed = document.sendConnectors.remove(at: index)
            try store.write(document)
            return removed
        }
    }

    /// Name present, FQDN a host name, TLSCertificateName in Exchange's syntax (stored with upper-case tags).
    func validated(_ connector: SendConnector) throws -> SendConnector {
        var result = connector
        result.name = connector.name.trimmingCharacters(in: .whitespaces)
        guard !result.name.isEmpty, result.name.count <= 64,
              !result.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CertStoreError.usage("a connector name must be 1 to 64 printable characters")
        }
        if let fqdn = connector.fqdn, !fqdn.isEmpty {
            let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
            guard fqdn.unicodeScalars.allSatisfy(allowed.contains), !fqdn.hasPrefix("."), !fqdn.contains("..") else {
                throw CertStoreError.usage("\"\(fqdn)\" is not a fully qualified domain name", hint: "for example --fqdn mail.contoso.com")
            }
        } else {
            result.fqdn = nil
        }
        if let text = connector.tlsCertificateName, !text.isEmpty {
            result.tlsCertificateName = try TLSCertificateName(parsing: text).description
        } else {
            result.tlsCertificateName = nil
        }
        if let spaces = connector.addressSpaces {
            let cleaned = spaces.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            for space in cleaned where !Self.isAddressSpace(space) {
                throw CertStoreError.usage("\"\(space)\" is not an address space", hint: "a domain (contoso.com), a domain with its subdomains (*.contoso.com), or * for all mail")
            }
            var seen = Set<String>()
            let unique = cleaned.filter { seen.insert($0).inserted }
            result.addressSpaces = unique.isEmpty ? nil : unique
        }
        if let hosts = connector.smartHosts {
            let cleaned = hosts.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for host in cleaned where !Self.isSmartHost(host) {
                throw CertStoreError.usage("\"\(host)\" is not a smart host", hint: "a host name or [IP address], optionally with :port, e.g. smtp.office365.com:587 or [192.0.2.25]:25")
            }
            result.smartHosts = cleaned.isEmpty ? nil : cleaned
        }
        if let level = connector.protocolLoggingLevel {
            guard let canonical = ["None", "Verbose"].first(where: { $0.caseInsensitiveCompare(level) == .orderedSame }) else {
                throw CertStoreError.usage("protocol logging level must be None or Verbose")
            }
            result.protocolLoggingLevel = canonical
        }
        return result
    }

    static func isAddressSpace(_ text: String) -> Bool {
        if text == "*" { return true }
        let domain = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        return isHostName(domain)
    }

    static func isHostName(_ text: String) -> Bool {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
        return !text.isEmpty && text.count <= 253 && text.unicodeScalars.allSatisfy(allowed.contains)
            && !text.hasPrefix(".") && !text.hasPrefix("-") && !text.contains("..")
    }

    /// `host`, `host:port`, `[address]`, `[address]:port`.
    static func isSmartHost(_ text: String) -> Bool {
        var host = Substring(text)
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]"), text.hasPrefix("[") || !text[..<colon].contains(":") {
            let port = text[text.index(after: colon)...]
            guard let number = Int(port), (1...65535).contains(number) else { return false }
            host = text[..<colon]
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return false }
            let address = String(host.dropFirst().dropLast())
            var v4 = in_addr(), v6 = in6_addr()
            return inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address.hasPrefix("ipv6:") ? String(address.dropFirst(5)) : address, &v6) == 1
        }
        return isHostName(String(host))
    }
}
