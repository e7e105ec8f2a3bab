/// The certificate block a session logged before its TLS handshake (`Sending certificate` …).
public struct LoggedCertificate: Sendable, Equatable, Codable {
    public var subject: String?
    public var issuer: String?
    public var serialNumber: String?
    public var thumbprint: String?
    public var alternateNames: [String] = []

    public var isEmpty: Bool { subject == nil && issuer == nil && serialNumber == nil && thumbprint == nil }
}

/// One `TLS negotiation failed …` row, with the session's certificate block.
public struct TLSFailure: Sendable {
    public let file: String
    public let line: Int
    public let dateTime: String
    public let connector: String
    public let session: String
    public let remoteEndpoint: String
    /// `NoCredentials`, `UnknownCredentials`, … (`fatal exception` for the inbound wording).
    public let error: String
    /// Nil when the session logged no `Sending certificate` block (no local certificate was loaded).
    public let certificate: LoggedCertificate?
}

/// What certstore makes of a failure: the store's certificate, the cause, the fix.
public struct Diagnosis: Sendable {
    public enum Cause: String, Sendable, Codable {
        /// KB 4495258: the certificate presented has no private key.
        case keyMissing = "PrivateKeyMissing"
        /// The key is in the store but unusable (unreadable, mismatched, inconsistent).
        case keyUnusable = "PrivateKeyNotAccessible"
        /// KB 4051498: the key is there but the certificate is not enabled for SMTP.
        case smtpNotEnabled = "SmtpNotEnabled"
        /// Key present and SMTP enabled in the store: the transport service cannot read it, or the store has
        /// been fixed since the failure.
        case keyPresentNow = "KeyPresentNow"
        /// The certificate is not in this store (another server's log, or removed).
        case notInStore = "NotInStore"
        /// The session logged no certificate at all.
        case noCertificateLogged = "NoCertificateLogged"
    }

    public enum MatchedBy: String, Sendable, Codable {
        case thumbprint, serialAndIssuer, issuerAndSubject, none
    }

    public let cause: Cause
    public let matchedBy: MatchedBy
    public let entry: StoreEntry?
    /// Other store certificates sharing issuer and subject (twins), when matched by names.
    public let candidates: [StoreEntry]
    /// The trash entry holding the certificate, when it was removed.
    public let trashed: TrashEntry?
    public let explanation: String
    public let fix: [String]
}
