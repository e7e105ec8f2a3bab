/// Which certificate Exchange's transport would present for a connector, and how it got there.
public struct CertificateSelection: Sendable {
    /// HealthChecker's connector status values.
    public enum Status: String, Sendable, Codable {
        case empty = "TlsCertificateNameEmpty"
        case syntaxInvalid = "TlsCertificateNameSyntaxInvalid"
        case match = "TlsCertificateMatch"
        case notFound = "TlsCertificateNotFound"
    }

    public enum Method: Sendable, Equatable {
        /// By `TLSCertificateName`: subject, then validity, then issuer, first in store order; no key check.
        case tlsCertificateName(TLSCertificateName)
        /// By FQDN: exact then wildcard, key present, newest NotBefore first, CA-issued before self-signed.
        case fqdn(String)
    }

    /// One certificate looked at, and what the rules said about it.
    public struct Step: Sendable {
        public let entry: StoreEntry
        public let accepted: Bool
        public let verdict: String
    }

    public var status: Status
    public var method: Method?
    public var syntaxError: String?
    public var steps: [Step] = []
    public var chosen: StoreEntry?
    /// Certificates sharing the chosen one's issuer and subject (the chosen one included) when there are several.
    public var twins: [StoreEntry] = []

    /// The chosen certificate has a usable private key: TLS can work.
    public var isUsable: Bool { chosen?.hasPrivateKey == true }

    /// Twins with and without a key: which one wins depends on store order — the KB 4495258 trap.
    public var hasKeylessTwin: Bool {
        twins.contains { !$0.hasPrivateKey } && twins.contains { $0.hasPrivateKey }
    }
}
