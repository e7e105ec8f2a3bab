import Foundation

/// What certstore makes of a mail daemon's TLS failure: the binding or send connectors concerned, the certificate,
/// the files the log names as they are now, why, and the commands that fix it.
public struct MailLogDiagnosis: Sendable {
    /// A certificate or key file the log names, as it is now.
    public struct File: Sendable {
        public let path: String
        /// The `Services/<folder>` the file is in, when it is one of this store's deployed files.
        public let serviceFolder: String?
        /// `current` or a version directory name.
        public let version: String?
        /// The thumbprint that version holds.
        public let thumbprint: Thumbprint?
        /// `missing`, `present`, `not readable by others (mode 0600, owner root)`, ...
        public let state: String
        public var inStore: Bool { serviceFolder != nil }
    }

    /// A send connector and the certificate it resolves to (outbound failures).
    public struct Connector: Sendable {
        public let name: String
        public let thumbprint: Thumbprint?
        public let hasPrivateKey: Bool?
    }

    public let services: [ExchangeService]
    /// The certificate the failure is about: the one deployed for the service (inbound), or the one the only
    /// connector resolves to (outbound).
    public let entry: StoreEntry?
    public let connectors: [Connector]
    public let files: [File]
    public let explanation: String
    public let fix: [String]
}

/// Relates failures to the store. Reads the store once, lazily, per diagnose run.
final class MailLogExplainer {
    let store: StoreLocation
    let serviceFiles: ServiceFiles
    let bindings: ServiceBindings
    let connectors: [SendConnector]
    /// The Services folder as logged paths spell it (symbolic links in the root resolved).
    let servicesPrefixes: [String]
    private var resolverValue: ConnectorResolver??

    init(store: StoreLocation) {
        self.store = store
        serviceFiles = ServiceFiles(store: store)
        bindings = (try? store.read(ServiceBindings.self)) ?? ServiceBindings()
        connectors = (try? store.read(SendConnectors.self))?.sendConnectors ?? []
        let plain = serviceFiles.directory.standardizedFileURL.path
        let real = serviceFiles.directory.resolvingSymlinksInPath().path
        servicesPrefixes = Array(Set([plain, real]))
    }

    var resolver: ConnectorResolver? {
        if resolverValue == nil { resolverValue = .some(try? ConnectorResolver(store: store)) }
        return resolverValue!
    }

    func entry(_ thumbprint: Thumbprint?) -> StoreEntry? {
        guard let thumbprint else { return nil }
        return resolver?.personal.first { $0.thumbprint == thumbprint }
    }

    // MARK: files

    func file(_ path: String) -> MailLogDiagnosis.File {
        let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
        var folder: String?, version: String?, thumbprint: Thumbprint?
        for prefix in servicesPrefixes where standardized.hasPrefix(prefix + "/") {
            var parts = standardized.dropFirst(prefix.count + 1).split(separator: "/").map(String.init)
            // A send connector's files: Services/Connectors/<slug>/<version>/…
            if parts.first == "Connectors", parts.count >= 3 {
                parts = ["Connectors/\(parts[1])"] + parts.dropFirst(2)
            }
            guard parts.count >= 2 else { continue }
            folder = parts[0]
            version = parts[1]
            if let service = ExchangeService(rawValue: parts[0]), parts[1] == "current" {
                thumbprint = serviceFiles.deployedThumbprint(service)
            } else if parts[0].hasPrefix("Connectors/"), parts[1] == "current" {
                thumbprint = serviceFiles.deployedThumbprint(in: serviceFiles.directory.appendingPathComponent(parts[0]))
            } else if ServiceFiles.isVersionName(parts[1]) {
                thumbprint = ServiceFiles.thumbprint(in: serviceFiles.directory.appendingPathComponent(parts[0]).appendingPathComponent(parts[1]))
            }
            break
        }
        var info = stat()
        let state: String
        if stat(path, &info) != 0 {
            state = errno == ENOENT || errno == ENOTDIR ? "missing" : "cannot be examined (\(String(cString: strerror(errno))))"
        } else if (info.st_mode & S_IFMT) != S_IFREG {
            state = "not a regular file"
        } else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(info.st_uid)"
            let group = getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(info.st_gid)"
            state = "present (mode 0\(mode), owner \(owner), group \(group))"
        }
        return MailLogDiagnosis.File(path: path, serviceFolder: folder, version: version, thumbprint: thumbprint, state: state)
    }

    // MARK: diagnosis

    func diagnose(_ failure: MailLogDiagnoser.Failure, services logged: [ExchangeService]) -> MailLogDiagnosis {
        let files = failure.paths.map(file)
        // A path in this store's Services/<SERVICE>/ names the service for sure (postfix/smtp reads SMTP's files when
        // service-config set it up so); else the program says which.
        let fromFiles = files.compactMap { $0.serviceFolder.flatMap(ExchangeService.init(rawValue:)) }
        var services = fromFiles.isEmpty ? logged : Array(Set(fromFiles)).sorted()
        if services.isEmpty, failure.direction == .inbound { services = [.smtp] }
        let service = services.first
        let deployed = service.flatMap { serviceFiles.deployedThumbprint($0) }
        let bound = service.map { bindings.thumbprints(for: $0) } ?? []

        var connectorList: [MailLogDiagnosis.Connector] = []
        var connectorEntry: StoreEntry?
        if failure.direction == .outbound, let resolver {
            let named = files.compactMap(\.serviceFolder).filter { ExchangeService(rawValue: $0) == nil }
            let relevant = connectors.filter { c in named.isEmpty || named.contains { $0.caseInsensitiveCompare(c.name) == .orderedSame } }
            for connector in relevant {
                let selection = resolver.resolve(connector)
                connectorList.append(.init(name: connector.name, thumbprint: selection.chosen?.thumbprint, hasPrivateKey: selection.chosen?.hasPrivateKey))
            }
            if relevant.count == 1 { connectorEntry = relevant.first.flatMap { resolver.resolve($0).chosen } }
        }
        let entry = entry(files.compactMap(\.thumbprint).first ?? deployed) ?? (failure.direction == .outbound && fromFiles.isEmpty ? connectorEntry : nil)
        let reload = Self.reload(failure.daemon)
        let what = failure.direction == .inbound
            ? (services.isEmpty ? failure.program : services.map(\.rawValue).joined(separator: "/") + " (\(failure.program))")
            : "outbound TLS (\(failure.program))"
        let serviceArg = services.map(\.rawValue).joined(separator: ",")
        var why: [String] = []
        var fix: [String] = []

        func describe(_ entry: StoreEntry) -> String {
            "\(entry.thumbprint) (\(entry.properties.subjectString), \(entry.properties.keyAlgorithm) \(entry.properties.publicKeySize) bits, HasPrivateKey \(entry.hasPrivateKey ? "True" : "False"))"
        }
        func presentedNow() -> String {
            if let service, let deployed {
                return "\(service.rawValue)'s deployed files hold " + (self.entry(deployed).map(describe) ?? "\(deployed), which is not in My")
            }
            if let service { return bound.isEmpty ? "nothing is bound to \(service.rawValue)" : "\(service.rawValue) is bound to \(bound.map(\.value).joined(separator: ", ")) but has no deployed files" }
            return "no service binding is concerned"
        }
        /// The commands that bring a service's files back in line, or bind something first.
        func redeploy() {
            guard service != nil else { return }
            let usable = bound.compactMap { self.entry($0) }.filter(\.hasPrivateKey)
            if usable.isEmpty {
                let candidate = resolver?.personal.filter { $0.hasPrivateKey && $0.properties.isTimeValid(at: Date()) }
                    .max { ($0.properties.notBefore ?? .distantPast) < ($1.properties.notBefore ?? .distantPast) }
                if let candidate {
                    fix.append(ShellQuote.command(["certstore", "enable", candidate.thumbprint.value, "--services", serviceArg]))
                } else {
                    fix.append(ShellQuote.command(["certstore", "list", "--has-private-key", "--ssl-server-authentication"]))
                }
            } else {
                fix.append(ShellQuote.command(["certstore", "deploy"]))
            }
            fix.append(reload)
        }
        /// The daemon reads files certstore does not keep: point it at the service's files.
        func pointAtStore() {
            switch failure.daemon {
            case .postfix: fix.append(ShellQuote.command(["certstore", "service-config", "postfix"]))
            case .dovecot: fix.append(ShellQuote.command(["certstore", "service-config", "dovecot"]))
            case .exim:
                if let service {
                    let current = serviceFiles.currentLink(service).path
                    why.append("exim reads tls_certificate = \(current)/fullchain.pem and tls_privatekey = \(current)/privkey.pem")
                }
            }
            fix.append(reload)
        }
        if failure.direction == .outbound, let connector = namedConnector(files: files, program: failure.program), let resolver {
            return explainConnector(connector, failure: failure, files: files, resolver: resolver, describe: describe)
        }
        let outside = files.filter { !$0.inStore }
        let inside = files.filter(\.inStore)

        switch failure.kind {
        case .keyFileUnreadable, .certificateFileUnreadable, .certificateUnloadable, .keyUnloadable, .keyCertificateMismatch, .tlsUnavailable:
            let noun = failure.kind == .keyCertificateMismatch ? "its key does not belong to its certificate"
                : failure.kind == .tlsUnavailable ? "it had no certificate and key to use"
                : failure.kind.summary
            why.append("\(what) could not load its certificate: \(noun) (\(failure.detail))")
            for f in files { why.append("\(f.path) is \(f.state)" + (f.thumbprint.map { ", holding \($0)" } ?? "")) }
            if !inside.isEmpty {
                let missing = inside.filter { $0.state == "missing" }
                if !missing.isEmpty {
                    why.append("these are certstore's deployed files: " + presentedNow())
                } else if failure.kind == .keyFileUnreadable || failure.kind == .certificateFileUnreadable {
                    // postfix and dovecot read their keys as root; exim reads them as Debian-exim after dropping root.
                    let unreadable = failure.daemon == .exim && inside.contains { !Self.readable($0.path, by: Self.account(.exim)) }
                    if unreadable, let service, let deployed {
                        why.append("the files are there, but exim reads them as Debian-exim, which cannot read them")
                        fix.append(ShellQuote.command(["certstore", "enable", deployed.value, "--services", service.rawValue, "--service-user", Self.account(failure.daemon)]))
                        fix.append(reload)
                    } else {
                        why.append("the files are there now (deployed again since, or changed back): " + presentedNow()
                                   + "; the daemon reads them when it is reloaded")
                    }
                } else {
                    why.append(presentedNow() + "; a deployed file changed behind certstore's back is rewritten by deploy")
                }
                if fix.isEmpty { redeploy() }
            } else if !outside.isEmpty {
                why.append("the daemon reads files certstore does not keep; " + presentedNow())
                pointAtStore()
            } else {
                why.append(presentedNow())
                if let deployed, let entry = self.entry(deployed), !entry.hasPrivateKey {
                    redeploy()
                } else if deployed != nil {
                    why.append("if the daemon reads these files, their key and certificate were changed behind certstore's back (deploy rewrites them); otherwise it reads files of its own")
                    fix.append(ShellQuote.command(["certstore", "deploy"]))
                    pointAtStore()
                } else {
                    redeploy()
                }
            }
        case .noSharedCipher:
            if let entry {
                why.append("\(what): the peer offered no cipher suite this server can use with its certificate \(describe(entry))"
                           + (entry.properties.keyAlgorithm == "RSA" ? "; the peer may allow only TLS versions or ciphers the daemon disabled" : "; peers that only speak RSA suites cannot use an \(entry.properties.keyAlgorithm) certificate: bind an RSA certificate too"))
                fix.append(ShellQuote.command(["certstore", "list", "--has-private-key", "--ssl-server-authentication", "--property", "Thumbprint,Subject,KeyAlgorithm,NotAfter"]))
            } else {
                why.append("\(what): the peer offered no cipher suite this server can use; " + presentedNow() + ": without a certificate only anonymous suites are left, which clients do not offer")
                redeploy()
            }
        case .protocolVersionMismatch:
            why.append("\(what): the peer and the daemon have no TLS version in common (\(failure.detail)); the certificate is not the cause")
            switch failure.daemon {
            case .postfix: fix.append(failure.direction == .inbound ? "postconf smtpd_tls_protocols smtpd_tls_mandatory_protocols" : "postconf smtp_tls_protocols smtp_tls_mandatory_protocols")
            case .dovecot: fix.append("doveconf ssl_min_protocol")
            case .exim: fix.append("exim -bP tls_require_ciphers")
            }
        case .peerRejectedCertificate:
            let subject = failure.direction == .inbound ? "the client rejected the certificate this server presented" : "the server rejected the client certificate this machine presented"
            why.append("\(what): \(subject) (\(failure.detail))")
            if let entry {
                why.append("it is \(describe(entry)); a peer answers unknown ca when the chain is incomplete or issued by a CA it does not trust")
                fix.append(ShellQuote.command(["certstore", "show", entry.thumbprint.value]))
                fix.append(ShellQuote.command(["certstore", "audit"]))
            } else {
                why.append(presentedNow())
            }
        case .peerCertificateUntrusted:
            let whose = failure.direction == .inbound ? "the client's certificate" : "the server's certificate"
            why.append("\(what): \(whose) failed verification (\(failure.detail)): the peer's certificate, not one of this store's")
            fix.append(failure.daemon == .postfix
                       ? (failure.direction == .inbound ? "postconf smtpd_tls_CAfile smtpd_tls_req_ccert" : "postconf smtp_tls_CAfile smtp_tls_security_level")
                       : failure.daemon == .exim ? "exim -bP tls_verify_certificates" : "doveconf ssl_client_ca_file")
        case .clientCertificateMissing:
            if failure.direction == .inbound {
                why.append("\(what): the client presented no certificate, and this server requires one (\(failure.detail))")
                fix.append(failure.daemon == .postfix ? "postconf smtpd_tls_req_ccert smtpd_tls_ask_ccert" : "doveconf ssl_verify_client_cert")
            } else {
                why.append("\(what): the server requires a client certificate and this machine presented none")
            }
        case .handshakeFailed:
            why.append("\(what): the TLS handshake failed (\(failure.detail))")
            if entry != nil || service != nil { why.append(presentedNow()) }
            fix.append(ShellQuote.command(["certstore", "audit"]))
        }
        if failure.direction == .outbound {
            if connectorList.isEmpty {
                why.append(connectors.isEmpty ? "no send connector is defined in the store" : "no send connector is named by the files in the log")
            } else {
                let list = connectorList.map { c in "\"\(c.name)\" → \(c.thumbprint?.value ?? "no certificate")" + (c.hasPrivateKey == false ? " (HasPrivateKey False: KB 4495258)" : "") }
                why.append("send connectors and the certificates they resolve to: " + list.joined(separator: "; "))
                for c in connectorList where c.hasPrivateKey != true {
                    fix.append(ShellQuote.command(["certstore", "connector", "resolve", c.name]))
                }
            }
        }
        var unique: [String] = []
        for command in fix where !unique.contains(command) { unique.append(command) }
        return MailLogDiagnosis(services: services, entry: entry, connectors: connectorList, files: files,
                                explanation: why.joined(separator: "; "), fix: unique)
    }

    /// The send connector a failure names: by its files (`Services/Connectors/<slug>/`) or by its postfix
    /// transport's `syslog_name` (`postfix/certstore-<slug>/smtp`).
    func namedConnector(files: [MailLogDiagnosis.File], program: String) -> SendConnector? {
        let slugs = files.compactMap { $0.serviceFolder }.filter { $0.hasPrefix("Connectors/") }.map { String($0.dropFirst("Connectors/".count)) }
        if let slug = slugs.first, let connector = connectors.first(where: { $0.slug == slug }) { return connector }
        return connectors.first { program.hasPrefix(PostfixTransports.syslogName($0) + "/") }
    }

    /// An outbound failure on a send connector's own transport: what the connector resolves to (the one verdict
    /// `connector resolve` and `audit` give), whether that has changed since, and the plan that fixes it.
    private func explainConnector(_ connector: SendConnector, failure: MailLogDiagnoser.Failure, files: [MailLogDiagnosis.File],
                                  resolver: ConnectorResolver, describe: (StoreEntry) -> String) -> MailLogDiagnosis {
        let selection = resolver.resolve(connector)
        let verdict = ConnectorVerdict(connector: connector, selection: selection, bindings: bindings)
        let label = "send connector \"\(connector.name)\""
        var why = ["\(label)'s transport (\(failure.program)) could not present a certificate: \(failure.kind.summary) (\(failure.detail))"]
        var fix: [String] = []
        let folder = serviceFiles.connectorsDirectory.appendingPathComponent(connector.slug)
        let status = (try? FileSystem.read(folder.appendingPathComponent("current").appendingPathComponent("status"), limit: 4096))
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        if verdict.works {
            why.append("it now resolves to \(selection.chosen.map(describe) ?? "?"), and its files hold it" + (status.map { " (\($0))" } ?? "")
                       + ": the store was fixed after this failure; retry the deferred mail")
            fix.append(failure.daemon == .postfix ? "postqueue -f" : Self.reload(failure.daemon))
        } else {
            why.append("its TLSCertificateName resolves to " + (selection.chosen.map(describe) ?? "no certificate") + ": \(verdict.summary)")
            why.append("certstore keeps its files in a state postfix refuses, so the mail defers rather than leave in clear or with another certificate")
            let keyed = selection.twins.filter(\.hasPrivateKey)
            if verdict.outcome == .noCredentials, let chosen = selection.chosen, let twin = keyed.first {
                why.append("its renewed twin \(twin.thumbprint) has a key and takes over once \(chosen.thumbprint) is removed")
                if !bindings.thumbprints(for: .smtp).contains(twin.thumbprint) {
                    fix.append(ShellQuote.command(["certstore", "enable", twin.thumbprint.value, "--services", "SMTP", "--keep-default"]))
                }
                fix.append(ShellQuote.command(["certstore", "remove", chosen.thumbprint.value]))
                fix.append("postqueue -f")
            } else if verdict.outcome == .unknownCredentials, let chosen = selection.chosen {
                fix.append(ShellQuote.command(["certstore", "enable", chosen.thumbprint.value, "--services", "SMTP", "--keep-default"]))
                fix.append("postqueue -f")
            } else {
                why.append("no certificate with a key matches it: import the renewed certificate with its key (a PKCS#12)")
                fix.append(ShellQuote.command(["certstore", "connector", "resolve", connector.name]))
            }
        }
        return MailLogDiagnosis(services: [.smtp], entry: selection.chosen,
                                connectors: [.init(name: connector.name, thumbprint: selection.chosen?.thumbprint, hasPrivateKey: selection.chosen?.hasPrivateKey)],
                                files: files, explanation: why.joined(separator: "; "), fix: fix)
    }

    static func reload(_ daemon: MailDaemon) -> String {
        switch daemon {
        case .postfix: "postfix reload"
        case .dovecot: "doveadm reload"
        case .exim: "systemctl reload exim4"
        }
    }

    /// Whether `account` may read `path` by its mode bits (owner, group, others).
    static func readable(_ path: String, by account: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, let user = getpwnam(account) else { return false }
        if info.st_uid == user.pointee.pw_uid { return info.st_mode & 0o400 != 0 }
        if info.st_gid == user.pointee.pw_gid { return info.st_mode & 0o040 != 0 }
        return info.st_mode & 0o004 != 0
    }

    /// The account a Debian daemon reads its key as.
    static func account(_ daemon: MailDaemon) -> String {
        switch daemon {
        case .postfix: "postfix"
        case .dovecot: "dovecot"
        case .exim: "Debian-exim"
        }
    }
}
