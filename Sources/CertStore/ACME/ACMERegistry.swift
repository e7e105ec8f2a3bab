import Foundation

/// The location's ACME account: the server, the account URL (the JWS `kid`) and where its key is.
public struct ACMEAccount: Codable, Sendable, Equatable {
    /// The directory URL of the ACME server.
    public var server: String
    /// The account's URL on that server (RFC 8555 §7.3), the `kid` of every request after newAccount.
    public var url: String
    /// `mailto:` contacts registered with the account.
    public var contact: [String]
    /// The CA bundle that verifies a private ACME server's TLS certificate (`--ca-bundle`), if one was given.
    public var caBundle: String?
    /// The terms of service the account agreed to, when the server named them.
    public var termsOfService: String?
    public var createdAt: Date
}

/// A certificate of `My` that certstore obtained through ACME, with what renewing it needs: the account, the names,
/// the key type, how the names were proven, and the services it was bound to.
public struct ACMEManagedCertificate: Codable, Sendable, Equatable {
    public var thumbprint: Thumbprint
    /// The account URL that ordered it.
    public var account: String
    public var server: String
    public var dnsNames: [String]
    public var keySpec: KeySpec
    public var challenge: ChallengeMethod
    public var services: [ExchangeService]
    public var issuedAt: Date
    /// Set once `acme revoke` revoked it.
    public var revokedAt: Date?
    /// The certificate `acme renew` obtained to replace it (it is then not renewed again).
    public var renewedBy: Thumbprint?
    /// The certificate this one renews.
    public var renews: Thumbprint?
}

/// `acme.json` beside bindings.json: the account and the ACME-managed certificates by thumbprint. The account's
/// key is `ACME/account.key` in the location (0600 in a 0700 directory).
struct ACMERegistry: LocationDocument {
    static let fileName = "acme.json"
    var account: ACMEAccount?
    var certificates: [ACMEManagedCertificate] = []

    init() {}
}

extension StoreLocation {
    /// `<location>/ACME`, the ACME account key's directory.
    var acmeDirectory: URL { directory.appendingPathComponent("ACME", isDirectory: true) }
    var acmeAccountKeyURL: URL { acmeDirectory.appendingPathComponent("account.key") }
}
