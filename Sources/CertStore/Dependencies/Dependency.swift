import Foundation

/// Another application that uses a certificate (a Postfix relay, an LDAP server, a VPN), so that
/// removal knows about it. It names the certificate by thumbprint, or by `TLSCertificateName` when the
/// application picks its certificate by name (then it follows renewals, as a connector does).
public struct Dependency: Sendable, Codable, Equatable {
    public var application: String
    /// The certificate by thumbprint, when the application does not pick it by name.
    public var thumbprint: Thumbprint?
    public var tlsCertificateName: String?
    public var addedAt: Date?

    public init(application: String, thumbprint: Thumbprint? = nil, tlsCertificateName: String? = nil, addedAt: Date? = nil) {
        self.application = application
        self.thumbprint = thumbprint
        self.tlsCertificateName = tlsCertificateName
        self.addedAt = addedAt
    }
}

/// `<location>/dependencies.json`.
public struct Dependencies: LocationDocument, Equatable {
    static let fileName = "dependencies.json"
    public var dependencies: [Dependency] = []
    public init() {}
}
