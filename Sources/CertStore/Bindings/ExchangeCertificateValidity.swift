/// Exchange's reasons a certificate cannot be enabled for a service, checked in Exchange's order
/// (`EnsureValidExchangeCertificate`). The raw values are Exchange's own names.
public enum ExchangeCertificateValidity: String, Sendable, Codable {
    case valid = "Valid"
    /// No private key: the KB 4495258 certificate.
    case privateKeyMissing = "PrivateKeyMissing"
    /// A key file exists but is unreadable, belongs to another key, or is inconsistent.
    case privateKeyNotAccessible = "PrivateKeyNotAccessible"
    /// Not RSA, EC, DSA or EdDSA. (Exchange accepts RSA and DSA only; Linux TLS servers serve ECDSA and EdDSA
    /// certificates fine, so certstore accepts those too.)
    case keyAlgorithmUnsupported = "KeyAlgorithmUnsupported"
    /// A keyUsage extension without digitalSignature or nonRepudiation.
    case signingNotSupported = "SigningNotSupported"
    /// An EKU extension without Server Authentication (or anyExtendedKeyUsage).
    case pkixKpServerAuthNotFoundInEnhancedKeyUsage = "PkixKpServerAuthNotFoundInEnhancedKeyUsage"
    /// An RSA or DSA key under 1024 bits.
    case publicKeyUnsupportedSize = "PublicKeyUnsupportedSize"

    public static let supportedKeyAlgorithms: Set<String> = ["RSA", "RSA-PSS", "EC", "DSA", "ED25519", "ED448"]

    /// The first failing check, or `.valid`.
    public static func evaluate(_ entry: StoreEntry) -> ExchangeCertificateValidity {
        let p = entry.properties
        switch entry.keyStatus {
        case .missing: return .privateKeyMissing
        case .unreadable, .mismatched, .inconsistent: return .privateKeyNotAccessible
        case .present: break
        }
        if !supportedKeyAlgorithms.contains(p.keyAlgorithm.uppercased()) { return .keyAlgorithmUnsupported }
        if let usage = p.keyUsage, !usage.contains(.digitalSignature), !usage.contains(.nonRepudiation) { return .signingNotSupported }
        if !p.allowsServerAuthentication { return .pkixKpServerAuthNotFoundInEnhancedKeyUsage }
        if ["RSA", "RSA-PSS", "DSA"].contains(p.keyAlgorithm.uppercased()) && p.publicKeySize < 1024 { return .publicKeyUnsupportedSize }
        return .valid
    }

    /// Exchange's words, then what to do.
    public func error(thumbprint: Thumbprint) -> CertStoreError {
        let hint: String
        switch self {
        case .valid: hint = ""
        case .privateKeyMissing:
            hint = "import the certificate together with its key (the .pfx, or `certstore import KEYFILE`), or bind its renewed twin that has one"
        case .privateKeyNotAccessible:
            hint = "the key file is unreadable or does not belong to this certificate; run `certstore show \(thumbprint)` and re-import the key"
        case .keyAlgorithmUnsupported: hint = "use an RSA or ECDSA certificate"
        case .signingNotSupported: hint = "the certificate's key usage does not allow TLS; request one with digitalSignature"
        case .pkixKpServerAuthNotFoundInEnhancedKeyUsage: hint = "request a certificate whose Enhanced Key Usage includes Server Authentication"
        case .publicKeyUnsupportedSize: hint = "request a certificate with a key of at least 2048 bits"
        }
        return CertStoreError(.refused,
                              "The certificate with thumbprint \(thumbprint) was found but is not valid for use with Exchange Server (reason: \(rawValue)).",
                              hint: hint)
    }
}
