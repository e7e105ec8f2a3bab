import Foundation

/// Pending requests in the Exchange view: `Get-ExchangeCertificate` lists a request made with
/// `New-ExchangeCertificate -GenerateRequest` with `Status PendingRequest`, `IsSelfSigned False` and
/// `RootCAType Unknown` (Exchange's `CheckCertificateChainAndCacheProps` stops there: no chain is built), until
/// `Import-ExchangeCertificate` completes it. certstore's requests live in `LocalMachine/REQUEST` as Windows keeps
/// them (reference notes §2, lifecycle §1).
extension ExchangeCertificateView {
    /// The pending requests of the location that `filter` lets through, newest first. A request is bound to no
    /// service, so a `services` filter excludes every one; `domain` matches its subject CN and DNS names.
    public func pendingRequests(_ filter: Filter = Filter()) -> [ExchangeCertificate] {
        let requests = ((try? store.entries(in: store.path(of: .request)).entries) ?? [])
            .sorted { ($0.properties.notBefore ?? .distantPast) > ($1.properties.notBefore ?? .distantPast) }
        return requests.map(describePendingRequest).filter { request in
            (filter.rootCAType == nil || request.rootCAType == filter.rootCAType)
                && (filter.status == nil || request.status == filter.status)
                && filter.services.isSubset(of: request.services)
                && (filter.domain.map { domain in
                    ConnectorResolver.matches(domain, names: request.certificateDomains, wildcard: false)
                        || ConnectorResolver.matches(domain, names: request.certificateDomains, wildcard: true)
                } ?? true)
        }
    }

    /// `Get-ExchangeCertificate -Thumbprint` of a pending request; nil when `REQUEST` has no such entry.
    func pendingRequest(_ thumbprint: Thumbprint) throws -> ExchangeCertificate? {
        try store.entry(thumbprint, in: store.path(of: .request)).map(describePendingRequest)
    }

    func describePendingRequest(_ entry: StoreEntry) -> ExchangeCertificate {
        ExchangeCertificate(entry: entry, services: [], status: .pendingRequest, rootCAType: .unknown,
                            certificateDomains: domains(of: entry))
    }
}
