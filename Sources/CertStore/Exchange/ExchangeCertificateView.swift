import Foundation

/// `Get-ExchangeCertificate`: only certificates valid for Exchange (a usable key first of all), newest
/// NotBefore first, with `Services`, `Status` and `RootCAType` (reference notes §2).
public struct ExchangeCertificateView: Sendable {
    public struct Filter: Sendable {
        public var rootCAType: ExchangeCertificate.RootCAType?
        public var status: ExchangeCertificate.Status?
        public var services: Set<ExchangeService> = []
        /// `-DomainName`: certificates for this name, the one Exchange would pick first.
        public var domain: String?
        public init() {}
    }

    public let store: StoreLocation
    public let now: Date
    private let resolver: ConnectorResolver
    private let bindings: ServiceBindings
    private let roots: [StoreEntry]

    public init(store: StoreLocation, now: Date = Date()) throws {
        self.store = store
        self.now = now
        resolver = try ConnectorResolver(store: store, now: now)
        bindings = try store.read(ServiceBindings.self)
        roots = try store.entries(in: store.path(of: .root)).entries
    }

    /// The certificates Exchange lists (keyless and archived ones are silently hidden, as Exchange does), then the
    /// pending requests (`Status PendingRequest`, see `pendingRequests`).
    public func certificates(_ filter: Filter = Filter()) -> [ExchangeCertificate] {
        var candidates = resolver.personal
            .filter { !$0.storeProperties.archived && ExchangeCertificateValidity.evaluate($0) == .valid }
            .sorted { ($0.properties.notBefore ?? .distantPast) > ($1.properties.notBefore ?? .distantPast) }
        // Status and RootCAType need every candidate's chain: kept verdicts where the chain cache vouches for
        // them, the others verified on all cores (`ChainCache`).
        resolver.verifyChains(of: candidates, store: store)
        if let domain = filter.domain {
            let matching = candidates.filter {
                ConnectorResolver.matches(domain, names: domains(of: $0), wildcard: false)
                    || ConnectorResolver.matches(domain, names: domains(of: $0), wildcard: true)
            }
            // The one Exchange would select comes first; the rest keep newest-first order.
            let best = resolver.resolve(fqdn: domain).chosen?.thumbprint
            candidates = matching.filter { $0.thumbprint == best } + matching.filter { $0.thumbprint != best }
        }
        return candidates.map(describe).filter { certificate in
            (filter.rootCAType == nil || certificate.rootCAType == filter.rootCAType)
                && (filter.status == nil || certificate.status == filter.status)
                && filter.services.isSubset(of: certificate.services)
        } + pendingRequests(filter)
    }

    /// `Get-ExchangeCertificate -Thumbprint`: the certificate, or Exchange's own errors.
    public func certificate(_ thumbprint: Thumbprint) throws -> ExchangeCertificate {
        guard let entry = try store.entry(thumbprint, in: store.path(of: .my)) else {
            if let request = try pendingRequest(thumbprint) { return request }
            throw CertStoreError.notFound("The certificate with thumbprint \(thumbprint) was not found.",
                                          hint: "`certstore list` shows what is in LocalMachine/My")
        }
        let validity = ExchangeCertificateValidity.evaluate(entry)
        guard validity == .valid else { throw validity.error(thumbprint: entry.thumbprint) }
        return describe(entry)
    }

    public func describe(_ entry: StoreEntry) -> ExchangeCertificate {
        let (status, rootType) = statusAndRoot(entry)
        return ExchangeCertificate(entry: entry, services: bindings.services(of: entry.thumbprint), status: status,
                                   rootCAType: rootType, certificateDomains: domains(of: entry))
    }

    /// Exchange's `CheckCertificateChainAndCacheProps`: an untrusted self-signed certificate is Valid with
    /// RootCAType None; another untrusted chain is Untrusted; otherwise the policy result, and the root's type.
    func statusAndRoot(_ entry: StoreEntry) -> (ExchangeCertificate.Status, ExchangeCertificate.RootCAType) {
        let chain = resolver.chainResult(for: entry)
        if chain.errorCode == -1 { return (.unknown, .unknown) }
        if chain.isUntrustedSelfSigned { return (.valid, .none) }
        switch chain.outcome {
        case .untrusted: return (.untrusted, .unknown)
        case .invalid: return (.invalid, .unknown)
        case .valid, .dateInvalid:
            let root = chain.chain.last.flatMap { thumbprint in roots.first { $0.thumbprint == thumbprint } }
            let type = root.map { $0.storeProperties.rootCAType ?? .thirdParty } ?? .unknown
            return (chain.outcome == .valid ? .valid : .dateInvalid, type)
        }
    }

    func domains(of entry: StoreEntry) -> [String] {
        var names: [String] = []
        var seen = Set<String>()
        let candidates = [entry.properties.subject.commonName].compactMap { $0 }
            + entry.properties.subjectAlternativeNames.compactMap { if case .dns(let name) = $0 { return name } else { return nil } }
        for name in candidates where seen.insert(name.lowercased()).inserted { names.append(name) }
        return names
    }
}
