/// The keyUsage extension bits, as OpenSSL reports them (`X509_get_key_usage`).
public struct KeyUsage: OptionSet, Sendable, Codable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let digitalSignature = KeyUsage(rawValue: 0x0080)
    public static let nonRepudiation = KeyUsage(rawValue: 0x0040)
    public static let keyEncipherment = KeyUsage(rawValue: 0x0020)
    public static let dataEncipherment = KeyUsage(rawValue: 0x0010)
    public static let keyAgreement = KeyUsage(rawValue: 0x0008)
    public static let keyCertSign = KeyUsage(rawValue: 0x0004)
    public static let cRLSign = KeyUsage(rawValue: 0x0002)
    public static let encipherOnly = KeyUsage(rawValue: 0x0001)
    public static let decipherOnly = KeyUsage(rawValue: 0x8000)

    /// Names in the order Windows lists them.
    public var names: [String] {
        let all: [(KeyUsage, String)] = [
            (.digitalSignature, "DigitalSignature"), (.nonRepudiation, "NonRepudiation"),
            (.keyEncipherment, "KeyEncipherment"), (.dataEncipherment, "DataEncipherment"),
            (.keyAgreement, "KeyAgreement"), (.keyCertSign, "KeyCertSign"), (.cRLSign, "CrlSign"),
            (.encipherOnly, "EncipherOnly"), (.decipherOnly, "DecipherOnly"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}
