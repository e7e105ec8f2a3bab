import Foundation

/// A certificate as `Get-ExchangeCertificate` shows it.
public struct ExchangeCertificate: Sendable {
    /// Exchange's `Status` values that certstore can produce.
    public enum Status: String, Sendable, CaseIterable {
        case valid = "Valid", untrusted = "Untrusted", dateInvalid = "DateInvalid", invalid = "Invalid", unknown = "Unknown"
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
}
