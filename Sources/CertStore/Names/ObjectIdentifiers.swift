/// Friendly names Windows gives well-known object identifiers.
public enum ObjectIdentifiers {
    public static let serverAuthentication = "1.3.6.1.5.5.7.3.1"
    public static let anyExtendedKeyUsage = "2.5.29.37.0"

    /// Extended key usages, as `EnhancedKeyUsageList` names them.
    static let extendedKeyUsageNames: [String: String] = [
        "1.3.6.1.5.5.7.3.1": "Server Authentication",
        "1.3.6.1.5.5.7.3.2": "Client Authentication",
        "1.3.6.1.5.5.7.3.3": "Code Signing",
        "1.3.6.1.5.5.7.3.4": "Secure Email",
        "1.3.6.1.5.5.7.3.5": "IP security end system",
        "1.3.6.1.5.5.7.3.6": "IP security tunnel termination",
        "1.3.6.1.5.5.7.3.7": "IP security user",
        "1.3.6.1.5.5.7.3.8": "Time Stamping",
        "1.3.6.1.5.5.7.3.9": "OCSP Signing",
        "1.3.6.1.4.1.311.10.3.4": "Encrypting File System",
        "1.3.6.1.4.1.311.10.3.12": "Document Signing",
        "1.3.6.1.4.1.311.20.2.2": "Smart Card Logon",
        "1.3.6.1.4.1.311.54.1.2": "Remote Desktop Authentication",
        "1.3.6.1.5.2.3.5": "KDC Authentication",
        "2.5.29.37.0": "Any Purpose",
    ]

    /// `Server Authentication (1.3.6.1.5.5.7.3.1)`, or the bare OID when Windows has no name for it.
    public static func extendedKeyUsageDisplay(_ oid: String) -> String {
        guard let name = extendedKeyUsageNames[oid] else { return oid }
        return "\(name) (\(oid))"
    }

    public static func extendedKeyUsageName(_ oid: String) -> String? { extendedKeyUsageNames[oid] }

    /// `SignatureAlgorithm.FriendlyName` as Windows shows it (e.g. `sha256RSA`).
    static let signatureAlgorithmNames: [String: String] = [
        "1.2.840.113549.1.1.2": "md2RSA",
        "1.2.840.113549.1.1.4": "md5RSA",
        "1.2.840.113549.1.1.5": "sha1RSA",
        "1.3.14.3.2.29": "sha1RSA",
        "1.2.840.113549.1.1.11": "sha256RSA",
        "1.2.840.113549.1.1.12": "sha384RSA",
        "1.2.840.113549.1.1.13": "sha512RSA",
        "1.2.840.113549.1.1.10": "RSASSA-PSS",
        "1.2.840.10045.4.1": "sha1ECDSA",
        "1.2.840.10045.4.3.2": "sha256ECDSA",
        "1.2.840.10045.4.3.3": "sha384ECDSA",
        "1.2.840.10045.4.3.4": "sha512ECDSA",
        "1.2.840.10040.4.3": "sha1DSA",
        "2.16.840.1.101.3.4.3.2": "sha256DSA",
        "1.3.101.112": "Ed25519",
        "1.3.101.113": "Ed448",
    ]

    public static func signatureAlgorithmName(_ oid: String) -> String { signatureAlgorithmNames[oid] ?? oid }
}
