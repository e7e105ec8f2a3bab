import Foundation

/// What one input file holds, whatever its format: certificates and private keys.
public struct CredentialFile: Sendable {
    public enum Format: String, Sendable, Codable {
        case pkcs12 = "PKCS#12"
        case pem = "PEM"
        case der = "DER"
        case pkcs7 = "PKCS#7"
        case derKey = "DER key"
    }

    public struct Item<Value: Sendable>: Sendable {
        public let value: Value
        public let friendlyName: String?
        public let localKeyID: [UInt8]?
    }

    public let format: Format
    public let certificates: [Item<Certificate>]
    public let keys: [Item<PrivateKey>]

    /// Recognises PKCS#12, PEM (certificates, bundles, PKCS#7, keys), DER certificates, DER PKCS#7 and DER
    /// keys. `password` nil means none given: a file that needs one throws `CertStoreError.passwordRequired`.
    public init(bytes: [UInt8], password: Password?, limits: Limits = .default) throws {
        guard !bytes.isEmpty else { throw CertStoreError.badData("the file is empty") }
        guard bytes.count <= limits.maxFileSize else {
            throw CertStoreError.badData("the file is \(bytes.count) bytes, larger than the limit of \(limits.maxFileSize)")
        }
        if PEMBlock.looksLikePEM(bytes) {
            try self.init(pem: bytes, password: password, limits: limits)
        } else if PKCS12File.looksLikePKCS12(bytes) {
            let file = try PKCS12File(der: bytes, password: password, limits: limits)
            self.init(format: .pkcs12,
                      certificates: file.certificates.map { Item(value: $0.certificate, friendlyName: $0.friendlyName, localKeyID: $0.localKeyID) },
                      keys: file.keys.map { Item(value: $0.key, friendlyName: $0.friendlyName, localKeyID: $0.localKeyID) })
        } else if let certificate = try? Certificate(der: bytes) {
            self.init(format: .der, certificates: [Item(value: certificate, friendlyName: nil, localKeyID: nil)], keys: [])
        } else if let certificates = try PKCS7Bundle.certificates(der: bytes) {
            self.init(format: .pkcs7, certificates: certificates.map { Item(value: $0, friendlyName: nil, localKeyID: nil) }, keys: [])
        } else if Self.looksLikeDERKey(bytes), let key = try Self.derKey(bytes, password: password, limits: limits) {
            self.init(format: .derKey, certificates: [], keys: [Item(value: key, friendlyName: nil, localKeyID: nil)])
        } else {
            clearOpenSSLErrors()
            throw CertStoreError(.badData, "unrecognised or damaged file: not PKCS#12, PEM, a DER certificate, PKCS#7 or a private key",
                                 hint: "certstore reads .pfx/.p12, .pem/.crt/.cer (PEM or DER), .p7b and key files; check the file is complete")
        }
    }

    /// A DER private key, nil when the bytes are not one; password and iteration problems are real errors.
    private static func derKey(_ bytes: [UInt8], password: Password?, limits: Limits) throws -> PrivateKey? {
        do {
            return try PrivateKey(bytes: bytes, password: password, limits: limits)
        } catch let error as CertStoreError where error.cause != nil {
            throw error
        } catch {
            return nil
        }
    }

    private init(format: Format, certificates: [Item<Certificate>], keys: [Item<PrivateKey>]) {
        self.format = format
        self.certificates = certificates
        self.keys = keys
    }

    private init(pem bytes: [UInt8], password: Password?, limits: Limits) throws {
        var certificates: [Item<Certificate>] = []
        var keys: [Item<PrivateKey>] = []
        var ignored: [String] = []
        let budget = IterationBudget(limits)
        var format = Format.pem
        let blocks = PEMBlock.all(in: bytes)
        for (index, block) in blocks.enumerated() {
            let position = "PEM block \(index + 1) (\(block.label))"
            switch block.label {
            case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
                guard !block.der.isEmpty else { throw CertStoreError.badData("\(position) is not valid base64") }
                do {
                    let der = block.label == "TRUSTED CERTIFICATE" ? Self.leadingDER(block.der) : block.der
                    certificates.append(Item(value: try Certificate(der: der), friendlyName: nil, localKeyID: nil))
                } catch let error as CertStoreError {
                    throw CertStoreError(.badData, "\(position): \(error.message)", hint: error.hint)
                }
            case "PKCS7", "CERTIFICATE CHAIN":
                guard let chain = try PKCS7Bundle.certificates(der: block.der) else {
                    throw CertStoreError.badData("\(position) is not a readable PKCS#7 structure")
                }
                format = .pkcs7
                certificates += chain.map { Item(value: $0, friendlyName: nil, localKeyID: nil) }
            case let label where label.hasSuffix("PRIVATE KEY"):
                do {
                    keys.append(Item(value: try PrivateKey(bytes: block.text, password: password, budget: budget),
                                     friendlyName: nil, localKeyID: nil))
                } catch let error as CertStoreError where error.cause == .passwordRequired || error.cause == .iterationLimit {
                    throw error
                } catch let error as CertStoreError {
                    throw CertStoreError(.badData, "\(position): \(error.message)", hint: error.hint)
                }
            default:
                ignored.append(block.label)
            }
        }
        guard !certificates.isEmpty || !keys.isEmpty else {
            let found = blocks.isEmpty ? "no complete PEM block" : "only " + Set(ignored).sorted().joined(separator: ", ")
            throw CertStoreError.badData("no certificate or private key in the PEM file (found \(found))")
        }
        self.init(format: format, certificates: certificates, keys: keys)
    }

    /// The first DER element (a `TRUSTED CERTIFICATE` carries OpenSSL trust settings after it).
    static func leadingDER(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > 2, bytes[0] == 0x30 else { return bytes }
        let first = Int(bytes[1])
        var length = 0, header = 2
        if first & 0x80 == 0 { length = first } else {
            let count = first & 0x7F
            guard count <= 4, bytes.count > 2 + count else { return bytes }
            for byte in bytes[2..<(2 + count)] { length = length << 8 | Int(byte) }
            header += count
        }
        return header + length <= bytes.count ? Array(bytes.prefix(header + length)) : bytes
    }

    /// A DER SEQUENCE that is not a certificate: possibly PKCS#1/PKCS#8/encrypted PKCS#8.
    static func looksLikeDERKey(_ bytes: [UInt8]) -> Bool { bytes.count > 16 && bytes[0] == 0x30 }
}
