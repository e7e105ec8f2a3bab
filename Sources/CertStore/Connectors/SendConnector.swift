/// A send connector: where outbound mail goes and which certificate it presents.
public struct SendConnector: Sendable, Codable, Equatable {
    public var name: String
    /// The FQDN the connector uses in HELO/EHLO; certificate selection uses it when no TLSCertificateName is set.
    public var fqdn: String?
    /// `<I>issuer<S>subject`, as `Set-SendConnector -TlsCertificateName` takes it.
    public var tlsCertificateName: String?
    /// `None` or `Verbose` (`Set-SendConnector -ProtocolLoggingLevel`).
    public var protocolLoggingLevel: String?
    /// Recipient domains this connector carries mail for (`-AddressSpaces`): `contoso.com`, `*.contoso.com`
    /// (the domain and its subdomains) or `*` (everything). On postfix, the lines of the connector's transport map.
    public var addressSpaces: [String]?
    /// Where the connector delivers (`-SmartHosts`): `host`, `host:port`, `[192.0.2.1]:587`; none means by MX.
    public var smartHosts: [String]?
    /// Outbound TLS is mandatory (`-RequireTLS`): postfix's `smtp_tls_security_level = encrypt` on its transport.
    public var requireTLS: Bool?

    public init(name: String, fqdn: String? = nil, tlsCertificateName: String? = nil, protocolLoggingLevel: String? = nil,
                addressSpaces: [String]? = nil, smartHosts: [String]? = nil, requireTLS: Bool? = nil) {
        self.name = name
        self.fqdn = fqdn
        self.tlsCertificateName = tlsCertificateName
        self.protocolLoggingLevel = protocolLoggingLevel
        self.addressSpaces = addressSpaces
        self.smartHosts = smartHosts
        self.requireTLS = requireTLS
    }

    /// The name postfix knows the connector by (its master.cf transport and `syslog_name`, its folder under
    /// `Services/Connectors/`): the name in lower case, every run of other characters one `-`, at most 40
    /// characters. Two connectors whose names give the same slug are refused.
    public var slug: String {
        var result = ""
        for scalar in name.lowercased().unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                result.unicodeScalars.append(scalar)
            } else if !result.isEmpty, !result.hasSuffix("-") {
                result += "-"
            }
        }
        while result.hasSuffix("-") { result.removeLast() }
        let trimmed = String(result.prefix(40))
        return trimmed.isEmpty ? "connector" : (trimmed.hasSuffix("-") ? String(trimmed.dropLast()) : trimmed)
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
