/// The key a request or a self-signed certificate gets: `rsa:2048` (Exchange's default), `rsa:3072`,
/// `rsa:4096`, `ec:p256` or `ec:p384`.
public enum KeySpec: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case rsa2048 = "rsa:2048"
    case rsa3072 = "rsa:3072"
    case rsa4096 = "rsa:4096"
    case ecP256 = "ec:p256"
    case ecP384 = "ec:p384"

    /// Exchange's `New-ExchangeCertificate` default (`-KeySize 2048`).
    public static let `default` = KeySpec.rsa2048

    /// `rsa:2048`, `RSA:2048`, `ec:P-256`, `ec:prime256v1`, `ec:secp384r1`: case and the curve's spelling do not matter.
    public init(parsing text: String) throws {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        let aliases: [String: KeySpec] = [
            "ec:p-256": .ecP256, "ec:prime256v1": .ecP256, "ec:secp256r1": .ecP256,
            "ec:p-384": .ecP384, "ec:secp384r1": .ecP384,
        ]
        guard let spec = KeySpec(rawValue: lowered) ?? aliases[lowered] else {
            throw CertStoreError.usage("unknown key type \"\(text)\"",
                                       hint: "use one of " + KeySpec.allCases.map(\.rawValue).joined(separator: ", ") + " (default rsa:2048)")
        }
        self = spec
    }

    /// OpenSSL's key type name.
    var algorithm: String { isRSA ? "RSA" : "EC" }
    var isRSA: Bool { self == .rsa2048 || self == .rsa3072 || self == .rsa4096 }
    /// RSA modulus bits; nil for EC.
    var rsaBits: Int32? {
        switch self {
        case .rsa2048: 2048
        case .rsa3072: 3072
        case .rsa4096: 4096
        case .ecP256, .ecP384: nil
        }
    }
    /// OpenSSL's group name for EC; nil for RSA.
    var curve: String? {
        switch self {
        case .ecP256: "P-256"
        case .ecP384: "P-384"
        default: nil
        }
    }

    public var description: String { rawValue }
}

import Foundation
