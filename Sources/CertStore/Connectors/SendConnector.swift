/// A send connector: where outbound mail goes and which certificate it presents.
public struct SendConnector: Sendable, Codable, Equatable {
    public var name: String
    /// The FQDN the connector uses in HELO/EHLO; certificate selection uses it when no TLSCertificateName is set.
    public var fqdn: String?
    /// `<I>issuer<S>subject`, as `Set-SendConnector -TlsCertificateName` takes it.
    public var tlsCertificateName: String?
    /// `None` or `Verbose` (`Set-SendConnector -ProtocolLoggingLevel`).
    public var protocolLoggingLevel: String?

    public init(name: String, fqdn: String? = nil, tlsCertificateName: String? = nil, protocolLoggingLevel: String? = nil) {
        self.name = name
        self.fqdn = fqdn
        self.tlsCertificateName = tlsCertificateName
        self.protocolLoggingLevel = protocolLoggingLevel
    }
}

/// `<location>/connectors.json`.
public struct SendConnectors: LocationDocument, Equatable {
    static let fileName = "connectors.json"
    public var sendConnectors: [SendConnector] = []
    public init() {}

    public func connector(named name: String) -> SendConnector? {
        sendConnectors.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }
}
