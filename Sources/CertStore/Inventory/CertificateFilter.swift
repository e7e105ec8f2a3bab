import Foundation

/// The filters of `list`, with the semantics of PowerShell's `Cert:` provider and `-like`.
public struct CertificateFilter: Sendable {
    public var thumbprint: WildcardPattern?
    public var subject: WildcardPattern?
    public var issuer: WildcardPattern?
    public var friendlyName: WildcardPattern?
    /// `-DnsName`: matches any `DnsNameList` entry.
    public var dnsName: WildcardPattern?
    /// `-Eku`: every pattern must match some EKU, by OID or friendly name.
    public var extendedKeyUsages: [WildcardPattern] = []
    /// `-SSLServerAuthentication`: an EKU extension listing Server Authentication.
    public var sslServerAuthentication = false
    /// `-ExpiringInDays N`: NotAfter on or before now + N days (so 0 means "already expired").
    public var expiringInDays: Int?
    public var hasPrivateKey: Bool?
    /// Archived certificates are hidden unless asked for (PowerShell's `-Force`).
    public var includeArchived = false
    public var now = Date()

    public init() {}

    /// Whether matching looks at the certificate's own properties (subject, names, usages, dates), not only
    /// at the thumbprint, the store properties and the key.
    public var readsCertificateProperties: Bool {
        subject != nil || issuer != nil || dnsName != nil || !extendedKeyUsages.isEmpty || sslServerAuthentication
            || expiringInDays != nil
    }

    public func matches(_ entry: StoreEntry) -> Bool {
        if !includeArchived && entry.storeProperties.archived { return false }
        if let thumbprint, !thumbprint.matches(entry.thumbprint.value) { return false }
        if let friendlyName, !friendlyName.matches(entry.storeProperties.friendlyName) { return false }
        if let hasPrivateKey, entry.hasPrivateKey != hasPrivateKey { return false }
        // The certificate's own properties only when a filter needs them: an entry from the index decodes
        // them when first asked for (a plain listing never does).
        guard readsCertificateProperties else { return true }
        let p = entry.properties
        if let subject, !subject.matches(p.subjectString) { return false }
        if let issuer, !issuer.matches(p.issuerString) { return false }
        if let dnsName, !p.dnsNameList.contains(where: dnsName.matches) { return false }
        if !extendedKeyUsages.isEmpty && !p.matchesExtendedKeyUsage(extendedKeyUsages) { return false }
        if sslServerAuthentication && !p.hasServerAuthenticationUsage { return false }
        if let days = expiringInDays {
            guard let notAfter = p.notAfter, notAfter <= now.addingTimeInterval(Double(days) * 86_400) else { return false }
        }
        return true
    }
}
