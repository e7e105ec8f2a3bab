/// Whether a certificate has a usable private key in the store, and if not, why not.
///
/// `HasPrivateKey` is derived from this, never stored: a key file for the certificate's public key
/// exists, OpenSSL loads it, it matches the certificate, and it passes the pairwise consistency check.
public enum PrivateKeyStatus: String, Sendable, Equatable, Codable {
    /// A matching, consistent key is in `Keys/`.
    case present = "Present"
    /// No key file for this public key: the KB 4495258 case.
    case missing = "Missing"
    /// A key file exists but cannot be read or parsed.
    case unreadable = "Unreadable"
    /// The key file holds a key for another public key (swapped or damaged behind certstore's back).
    case mismatched = "Mismatched"
    /// The key loads and matches the public key, but its private half is inconsistent.
    case inconsistent = "Inconsistent"

    public var hasPrivateKey: Bool { self == .present }
}
