import Foundation

/// One certificate as the store holds it.
///
/// Entries served from the index carry no parsed certificate: OpenSSL parses the `.cer` only when a caller
/// asks for it (`loadCertificate()`), e.g. to build a chain or export.
public struct StoreEntry: Sendable {
    public let store: StorePath
    public let properties: CertificateProperties
    public let storeProperties: StoreProperties
    public let keyStatus: PrivateKeyStatus
    let source: CertificateSource

    public var thumbprint: String { properties.thumbprint }
    public var hasPrivateKey: Bool { keyStatus.hasPrivateKey }

    init(store: StorePath, properties: CertificateProperties, storeProperties: StoreProperties,
         keyStatus: PrivateKeyStatus, source: CertificateSource) {
        self.store = store
        self.properties = properties
        self.storeProperties = storeProperties
        self.keyStatus = keyStatus
        self.source = source
    }

    /// The parsed certificate (parsed now if this entry came from the index).
    public func loadCertificate() throws -> Certificate { try source.load() }
}

/// Where an entry's certificate comes from: already parsed, or its `.cer` file, parsed once on demand.
final class CertificateSource: @unchecked Sendable {
    private let path: String
    private let thumbprint: String
    private let limit: Int
    private let lock = NSLock()
    private var certificate: Certificate?

    init(parsed certificate: Certificate, path: String) {
        self.path = path
        self.thumbprint = certificate.thumbprint
        self.limit = certificate.der.count
        self.certificate = certificate
    }

    init(path: String, thumbprint: String, limit: Int) {
        self.path = path
        self.thumbprint = thumbprint
        self.limit = limit
    }

    func load() throws -> Certificate {
        lock.lock()
        defer { lock.unlock() }
        if let certificate { return certificate }
        let parsed = try Certificate(der: try FileSystem.read(URL(fileURLWithPath: path), limit: limit))
        guard parsed.thumbprint == thumbprint else {
            throw CertStoreError.badData("\(path) changed while it was being read", hint: "run the command again")
        }
        certificate = parsed
        return parsed
    }
}

/// A file in a store directory that is not a readable certificate (reported, never fatal to a listing).
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
