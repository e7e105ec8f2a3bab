import Foundation

/// `dependency add|list|remove`: applications outside certstore that use a certificate.
public struct DependencyManager: Sendable {
    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    public func dependencies() throws -> [Dependency] { try store.read(Dependencies.self).dependencies }

    /// Registers `application` as using a certificate by thumbprint (which must exist in the location)
    /// or by `TLSCertificateName`. Registering the same pair twice is not an error and adds nothing.
    public func add(application: String, thumbprint: Thumbprint?, tlsCertificateName: String?, now: Date = Date()) throws -> OperationOutcome<Dependency> {
        let name = application.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CertStoreError.usage("an application name must be printable and not empty")
        }
        guard (thumbprint == nil) != (tlsCertificateName == nil) else {
            throw CertStoreError.usage("name the certificate by thumbprint or by --tls-certificate-name, not both and not neither")
        }
        let tlsName = try tlsCertificateName.map { try TLSCertificateName(parsing: $0).description }
        return try store.perform(now: now) {
            if let thumbprint {
                let present = try StoreName.allCases.contains { try store.entry(thumbprint, in: store.path(of: $0)) != nil }
                guard present else {
                    throw CertStoreError.notFound("the certificate with thumbprint \(thumbprint) is not in \(store.location)",
                                                  hint: "a dependency must name a certificate that exists; import it first")
                }
            }
            var document = try store.read(Dependencies.self)
            let dependency = Dependency(application: name, thumbprint: thumbprint, tlsCertificateName: tlsName, addedAt: now)
            if let existing = document.dependencies.first(where: {
                $0.application == name && $0.thumbprint == dependency.thumbprint && $0.tlsCertificateName == dependency.tlsCertificateName
            }) {
                return existing
            }
            document.dependencies.append(dependency)
            try store.write(document)
            return dependency
        }
    }

    /// Removes an application's dependencies (only the one on `thumbprint` when given). Returns what was removed.
    public func remove(application: String, thumbprint: Thumbprint?, now: Date = Date()) throws -> OperationOutcome<[Dependency]> {
        try store.perform(now: now) {
            var document = try store.read(Dependencies.self)
            let matches: (Dependency) -> Bool = {
                $0.application.caseInsensitiveCompare(application) == .orderedSame && (thumbprint == nil || $0.thumbprint == thumbprint)
            }
            let removed = document.dependencies.filter(matches)
            guard !removed.isEmpty else {
                throw CertStoreError.notFound("no dependency of \"\(application)\"" + (thumbprint.map { " on \($0)" } ?? ""),
                                              hint: "`certstore dependency list` shows them")
            }
            document.dependencies.removeAll(where: matches)
            try store.write(document)
            return removed
        }
    }
}
