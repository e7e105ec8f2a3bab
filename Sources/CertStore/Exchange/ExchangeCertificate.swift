import Foundation

/// A certificate as `Get-ExchangeCertificate` shows it.
public struct ExchangeCertificate: Sendable {
    /// Exchange's `Status` values that certstore can produce.
    public enum Status: String, Sendable, CaseIterable {
        case valid = "Valid", untrusted = "Untrusted", dateInvalid = "DateInvalid", invalid = "Invalid", unknown = "Unknown"
        /// A pending request of `REQUEST` (made by `certstore request`, not completed yet).
        case pendingRequest = "PendingRequest"
    }

    /// Exchange's `RootCAType` values.
    public enum RootCAType: String, Sendable, CaseIterable, Codable {
        case none = "None", thirdParty = "ThirdParty", enterprise = "Enterprise", registry = "Registry"
        case groupPolicy = "GroupPolicy", unknown = "Unknown"
    }

    public let entry: StoreEntry
    public let services: Set<ExchangeService>
    public let status: Status
    public let rootCAType: RootCAType
    /// The subject CN, then the SAN DNS names, without repeats (`CertificateDomains`).
    public let certificateDomains: [String]

    public var thumbprint: Thumbprint { entry.thumbprint }
    public var servicesMask: String { ExchangeService.mask(services) }
    /// Whether this is a pending request (`REQUEST` store) rather than a certificate of `My`.
    public var isPendingRequest: Bool { status == .pendingRequest }
    /// Exchange's `IsSelfSigned`: False for a pending request (whose dummy certificate only carries the key),
    /// otherwise whether the certificate is self-signed.
    public var isSelfSigned: Bool { isPendingRequest ? false : entry.properties.isSelfSigned }
    /// Exchange's `PrivateKeyExportable`: never set for a pending request (Exchange stops at PendingRequest);
    /// otherwise the key's exportable flag. What was chosen at request time applies once it is completed.
    public var privateKeyExportable: Bool { isPendingRequest ? false : entry.storeProperties.exportable }
}
