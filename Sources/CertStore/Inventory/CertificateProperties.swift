import Foundation

/// What a certificate says about itself, parsed once by OpenSSL. Pure values: safe to cache and share.
public struct CertificateProperties: Sendable, Equatable, Codable {
    public let thumbprint: Thumbprint
    public let sha256: String
    public let subject: DistinguishedName
    public let issuer: DistinguishedName
    /// Uppercase hex of the INTEGER's content octets, as .NET shows `SerialNumber`.
    public let serialNumber: String
    /// Nil when the certificate's time field is unreadable (OpenSSL accepts such certificates).
    public let notBefore: Date?
    public let notAfter: Date?
    public let version: Int
    public let subjectAlternativeNames: [SubjectAlternativeName]
    /// Extended key usage OIDs; nil when the certificate has no EKU extension (good for any purpose).
    public let extendedKeyUsages: [String]?
    /// Nil when the certificate has no keyUsage extension.
    public let keyUsage: KeyUsage?
    /// OpenSSL's key type name: "RSA", "EC", "ED25519", "DSA", or the SPKI algorithm when unknown.
    public let keyAlgorithm: String
    public let publicKeySize: Int
    public let signatureAlgorithmOID: String
    /// "sha256", "sha1", "md5"... (nil when the signature scheme has no separate digest, e.g. Ed25519).
    public let signatureHash: String?
    public let isSelfSigned: Bool
    public let isCertificateAuthority: Bool
    /// SHA-256 of the public key (SPKI DER): the name of the key file in `Keys/`.
    public let publicKeyIdentifier: String

    /// What an index record shows when neither it nor its certificate can be read any more (the file
    /// changed while it was listed): its thumbprint and key identifier, nothing else.
    static func unreadable(thumbprint: Thumbprint, publicKeyIdentifier: String) -> CertificateProperties {
        CertificateProperties(thumbprint: thumbprint, sha256: "", subject: DistinguishedName([]), issuer: DistinguishedName([]),
                              serialNumber: "", notBefore: nil, notAfter: nil, version: 0, subjectAlternativeNames: [],
                              extendedKeyUsages: nil, keyUsage: nil, keyAlgorithm: "", publicKeySize: 0, signatureAlgorithmOID: "",
                              signatureHash: nil, isSelfSigned: false, isCertificateAuthority: false,
                              publicKeyIdentifier: publicKeyIdentifier)
    }

    public var subjectString: String { subject.windowsString }
    public var issuerString: String { issuer.windowsString }

    /// `SignatureAlgorithm.FriendlyName`, e.g. `sha256RSA`.
    public var signatureAlgorithm: String { ObjectIdentifiers.signatureAlgorithmName(signatureAlgorithmOID) }

    /// `EnhancedKeyUsageList` entries, e.g. `Server Authentication (1.3.6.1.5.5.7.3.1)`.
    public var enhancedKeyUsageList: [String] { (extendedKeyUsages ?? []).map(ObjectIdentifiers.extendedKeyUsageDisplay) }

    /// PowerShell 7's `DnsNameList`: the subject CN when the subject is a single `CN=` RDN, then every
    /// SAN dNSName, de-duplicated case-insensitively.
    public var dnsNameList: [String] {
        var names: [String] = []
        var seen: [String] = []  // lowercased; a handful of names, so a scan beats hashing
        func add(_ name: String) {
            let key = name.lowercased()
            if !seen.contains(key) {
                seen.append(key)
                names.append(name)
            }
        }
        if isLoneCommonName, let cn = subject.commonName { add(cn) }
        for case .dns(let name) in subjectAlternativeNames { add(name) }
        return names
    }

    /// The subject is a single `CN=` RDN: it starts with `CN=` and has no `,` (compared as characters).
    /// An ASCII subject is checked byte by byte, which is the same answer without grapheme breaking.
    private var isLoneCommonName: Bool {
        let subjectText = subjectString
        let utf8 = subjectText.utf8
        if utf8.allSatisfy({ $0 < 0x80 }) {
            return utf8.starts(with: "CN=".utf8) && !utf8.contains(UInt8(ascii: ","))
        }
        return subjectText.hasPrefix("CN=") && !subjectText.contains(Character(","))
    }

    /// `-SSLServerAuthentication`: an EKU extension that lists Server Authentication.
    public var hasServerAuthenticationUsage: Bool {
        extendedKeyUsages?.contains(ObjectIdentifiers.serverAuthentication) ?? false
    }

    /// For TLS server use: no EKU extension, serverAuth, or anyExtendedKeyUsage (what Exchange accepts).
    public var allowsServerAuthentication: Bool {
        guard let usages = extendedKeyUsages else { return true }
        return usages.contains(ObjectIdentifiers.serverAuthentication) || usages.contains(ObjectIdentifiers.anyExtendedKeyUsage)
    }

    /// Does any EKU match all the patterns (by OID or friendly name)? PowerShell's `-Eku`.
    public func matchesExtendedKeyUsage(_ patterns: [WildcardPattern]) -> Bool {
        let usages = extendedKeyUsages ?? []
        return patterns.allSatisfy { pattern in
            usages.contains { oid in
                pattern.matches(oid) || ObjectIdentifiers.extendedKeyUsageName(oid).map(pattern.matches) == true
            }
        }
    }

    /// Is the certificate within its validity period at `date`?
    public func isTimeValid(at date: Date) -> Bool {
        guard let notBefore, let notAfter else { return false }
        return notBefore <= date && date <= notAfter
    }
}
