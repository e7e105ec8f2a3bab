import Foundation

/// One certificate as the store holds it.
public struct StoreEntry: Sendable {
    public let store: StorePath
    public let certificate: Certificate
    public let properties: CertificateProperties
    public let storeProperties: StoreProperties
    public let keyStatus: PrivateKeyStatus

    public var thumbprint: String { properties.thumbprint }
    public var hasPrivateKey: Bool { keyStatus.hasPrivateKey }
}

/// A file in a store directory that is not a readable certificate (reported, never fatal to a listing).
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
