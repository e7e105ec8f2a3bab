import Foundation

/// The properties `list`, `show` and `--property` know, with their PowerShell names and JSON keys.
///
/// The JSON keys are the documented, stable schema (docs/JSON.md); new properties may be added, none
/// renamed or removed.
public struct CertificateProperty: Sendable, Equatable {
    /// The name PowerShell uses, e.g. `HasPrivateKey` (headers in table, list and CSV output).
    public let name: String
    /// The camelCase JSON key, e.g. `hasPrivateKey`.
    public let jsonKey: String
    public let help: String
    let value: @Sendable (StoreEntry, PropertyContext) -> PropertyValue
    /// Depends on more than the certificate's own files (the store's bindings): never kept in the index.
    let isContextual: Bool

    public static func == (lhs: CertificateProperty, rhs: CertificateProperty) -> Bool { lhs.name == rhs.name }

    public func value(of entry: StoreEntry, context: PropertyContext) -> PropertyValue { value(entry, context) }

    init(_ name: String, _ help: String, _ value: @escaping @Sendable (StoreEntry) -> PropertyValue) {
        self.init(name, help, isContextual: false) { entry, _ in value(entry) }
    }

    init(_ name: String, _ help: String, isContextual: Bool = true, _ value: @escaping @Sendable (StoreEntry, PropertyContext) -> PropertyValue) {
        self.name = name
        self.jsonKey = name.prefix(1).lowercased() + name.dropFirst()
        self.help = help
        self.value = value
        self.isContextual = isContextual
    }

    /// Every property, in `show` (Format-List *) order.
    public static let all: [CertificateProperty] = [
        .init("Thumbprint", "uppercase SHA-1 of the DER") { .string($0.thumbprint.value) },
        .init("Subject", "subject DN in Windows form") { .string($0.properties.subjectString) },
        .init("Issuer", "issuer DN in Windows form") { .string($0.properties.issuerString) },
        .init("SerialNumber", "uppercase hex") { .string($0.properties.serialNumber) },
        .init("NotBefore", "start of validity (UTC)") { .date($0.properties.notBefore) },
        .init("NotAfter", "end of validity (UTC)") { .date($0.properties.notAfter) },
        .init("HasPrivateKey", "a matching, usable key is in the store") { .bool($0.hasPrivateKey) },
        .init("PrivateKeyStatus", "Present, Missing, Unreadable, Mismatched or Inconsistent") { .string($0.keyStatus.rawValue) },
        .init("FriendlyName", "store property") { .string($0.storeProperties.friendlyName) },
        .init("Services", "bound services: names in JSON, Exchange's 7-character mask (IP.WS..) elsewhere") { entry, context in
            context.services(of: entry.thumbprint)
        },
        .init("IsDefaultSmtpCertificate", "the default SMTP (internal transport) certificate") { entry, context in
            .bool(context.bindings.defaultSmtpCertificate == entry.thumbprint)
        },
        .init("DnsNameList", "PowerShell 7 rule: a lone CN, then SAN DNS names") { .list($0.properties.dnsNameList) },
        .init("EnhancedKeyUsageList", "e.g. Server Authentication (1.3.6.1.5.5.7.3.1)") { .list($0.properties.enhancedKeyUsageList) },
        .init("KeyUsage", "keyUsage extension bits") { .list($0.properties.keyUsage?.names ?? []) },
        .init("SubjectAlternativeNames", "every SAN entry") { .list($0.properties.subjectAlternativeNames.map(\.description)) },
        .init("KeyAlgorithm", "RSA, EC, ED25519, DSA, ...") { .string($0.properties.keyAlgorithm) },
        .init("PublicKeySize", "bits") { .int($0.properties.publicKeySize) },
        .init("SignatureAlgorithm", "e.g. sha256RSA") { .string($0.properties.signatureAlgorithm) },
        .init("IsSelfSigned", "issued by itself") { .bool($0.properties.isSelfSigned) },
        .init("IsCertificateAuthority", "basicConstraints CA:TRUE") { .bool($0.properties.isCertificateAuthority) },
        .init("Version", "X.509 version") { .int($0.properties.version) },
        .init("Sha256", "uppercase SHA-256 of the DER") { .string($0.properties.sha256) },
        .init("Archived", "store property") { .bool($0.storeProperties.archived) },
        .init("PrivateKeyExportable", "the key was imported --exportable") { .bool($0.storeProperties.exportable) },
        .init("ImportedAt", "when it was imported (UTC)") { .date($0.storeProperties.importedAt) },
        .init("Source", "the file it was imported from") { $0.storeProperties.source.map { .string($0) } ?? .null },
        .init("Store", "LOCATION/STORE") { .string($0.store.description) },
        .init("PublicKeySha256", "SHA-256 of the public key: the key file's name in Keys/") { .string($0.properties.publicKeyIdentifier) },
    ]

    /// Properties computed only when named (`--property TlsUsable,TlsProblem`; not in `*` or `show`'s default):
    /// each asks the TLS stack (``TLSUsabilityJudge``), which costs a handshake in memory per certificate.
    public static let onDemand: [CertificateProperty] = [
        .init("TlsUsable", "OpenSSL serves it at the daemons' security level (key, chain, handshake); on demand") { entry, context in
            context.tls.map { .bool($0.verdict(for: entry).isUsable) } ?? .null
        },
        .init("TlsProblem", "why OpenSSL refuses to serve it, with the security level; empty when it serves it; on demand") { entry, context in
            guard let verdict = context.tls?.verdict(for: entry), let problem = verdict.problem else { return .null }
            return .string("\(problem) (security level \(verdict.securityLevel))")
        },
    ]

    /// `Get-ChildItem Cert:\LocalMachine\My`'s table columns.
    public static let defaultTable = ["Thumbprint", "Subject"].map { named($0)! }

    /// The table columns for `REQUEST`: each pending request with its names, when it was made (its dummy
    /// certificate's NotBefore) and whether its key is there.
    public static let defaultRequestTable = ["Thumbprint", "Subject", "DnsNameList", "NotBefore", "HasPrivateKey"].map { named($0)! }

    public static func named(_ name: String) -> CertificateProperty? {
        (all + onDemand).first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// `--property a,b`: case-insensitive names; `*` means all. Unknown names are an error listing the known ones.
    public static func select(_ names: [String]) throws -> [CertificateProperty] {
        var selected: [CertificateProperty] = []
        for raw in names.flatMap({ $0.split(separator: ",") }) {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if name == "*" { return all }
            guard let property = named(name) else {
                throw CertStoreError.usage("unknown property \"\(name)\"",
                                           hint: "properties are: " + (all + onDemand).map(\.name).joined(separator: ", "))
            }
            if !selected.contains(property) { selected.append(property) }
        }
        guard !selected.isEmpty else { throw CertStoreError.usage("--property names no property") }
        return selected
    }
}
