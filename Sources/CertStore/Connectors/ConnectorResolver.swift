import Foundation

/// Resolves connectors to certificates the way Exchange transport does (reference notes §6.2, §6.3).
public struct ConnectorResolver: Sendable {
    /// `LocalMachine/My` in store enumeration order (import order, as Windows enumerates).
    public let personal: [StoreEntry]
    public let validator: ChainValidator
    public let now: Date
    /// The server's own FQDN, used when a connector has neither TLSCertificateName nor FQDN.
    public let hostName: String
    private let chains: ChainMemo

    public init(personal: [StoreEntry], roots: [Certificate], intermediates: [Certificate], now: Date = Date(),
                hostName: String = ConnectorResolver.localHostName) {
        let ordered = personal.sorted { a, b in
            let ta = a.storeProperties.importedAt ?? .distantPast, tb = b.storeProperties.importedAt ?? .distantPast
            return ta != tb ? ta < tb : a.thumbprint < b.thumbprint
        }
        self.personal = ordered
        self.validator = ChainValidator(roots: roots, intermediates: intermediates)
        self.now = now
        self.hostName = hostName
        self.chains = ChainMemo()
    }

    private init(personal: [StoreEntry], validator: ChainValidator, now: Date, hostName: String, chains: ChainMemo) {
        self.personal = personal
        self.validator = validator
        self.now = now
        self.hostName = hostName
        self.chains = chains
    }

    /// Reads `My`, `CA` and `Root` of the store's location.
    public init(store: StoreLocation, now: Date = Date()) throws {
        let path = store.path(of: .my)
        self.init(personal: try store.entries(in: path).entries,
                  roots: try store.entries(in: path.sibling(.root)).entries.compactMap { try? $0.loadCertificate() },
                  intermediates: try store.entries(in: path.sibling(.ca)).entries.compactMap { try? $0.loadCertificate() },
                  now: now)
    }

    /// The same resolver as if `thumbprint` were not in `My` (what removal would leave).
    public func without(_ thumbprint: Thumbprint) -> ConnectorResolver {
        without([thumbprint])
    }

    /// The same resolver as if none of `thumbprints` were in `My`.
    public func without(_ thumbprints: Set<Thumbprint>) -> ConnectorResolver {
        ConnectorResolver(personal: personal.filter { !thumbprints.contains($0.thumbprint) }, validator: validator, now: now,
                          hostName: hostName, chains: chains)
    }

    /// Chain verification of one certificate, computed once per resolver (only for the certificates asked about).
    /// The parsed certificate is not kept in the entry: a view verifies the chains of every certificate with a key.
    public func chainResult(for entry: StoreEntry) -> ChainValidator.Result {
        chains.result(for: entry.thumbprint) {
            guard let certificate = try? entry.certificateForOneUse() else {
                return ChainValidator.Result(outcome: .invalid, errorCode: -1, errorText: "the certificate file cannot be read", chain: [])
            }
            return validator.validate(certificate, at: now)
        }
    }

    /// Hands `chainResult(for:)` a verdict known to be what OpenSSL would answer (`verifyChains(of:store:)`).
    func seedChainResult(_ result: ChainValidator.Result, for thumbprint: Thumbprint) {
        chains.seed(thumbprint, result)
    }

    public func resolve(_ connector: SendConnector) -> CertificateSelection {
        guard let text = connector.tlsCertificateName, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            var selection = resolve(fqdn: connector.fqdn.flatMap { $0.isEmpty ? nil : $0 } ?? hostName)
            selection.status = .empty
            return selection
        }
        do {
            return resolve(name: try TLSCertificateName(parsing: text))
        } catch let error as CertStoreError {
            return CertificateSelection(status: .syntaxInvalid, method: nil, syntaxError: error.message)
        } catch {
            return CertificateSelection(status: .syntaxInvalid, method: nil, syntaxError: "\(error)")
        }
    }

    /// `TLSCertificateName` resolution: certificates whose subject matches, that are valid (time and chain),
    /// then the first whose issuer matches, in store order. No private-key check — Exchange makes none here,
    /// which is how a keyless twin gets picked (KB 4495258). Archived certificates are never chosen (Windows
    /// enumerates them only when asked to): `handover` archives the certificate it replaces, so its twin wins.
    public func resolve(name: TLSCertificateName) -> CertificateSelection {
        var selection = CertificateSelection(status: .notFound, method: .tlsCertificateName(name))
        for entry in personal {
            let p = entry.properties
            guard DistinguishedName.normalize(p.subjectString) == DistinguishedName.normalize(name.subject) else { continue }
            if entry.storeProperties.archived {
                selection.steps.append(.init(entry: entry, accepted: false, verdict: "subject matches, skipped: archived"))
                continue
            }
            let chain = chainResult(for: entry)
            guard chain.outcome == .valid else {
                selection.steps.append(.init(entry: entry, accepted: false,
                                             verdict: "subject matches, skipped: not valid (\(chain.outcome.rawValue): \(chain.errorText))"))
                continue
            }
            if let issuer = name.issuer, DistinguishedName.normalize(p.issuerString) != DistinguishedName.normalize(issuer) {
                selection.steps.append(.init(entry: entry, accepted: false, verdict: "subject matches and valid, skipped: issuer differs"))
                continue
            }
            if selection.chosen == nil {
                selection.chosen = entry
                selection.status = .match
                selection.steps.append(.init(entry: entry, accepted: true,
                                             verdict: "chosen: first valid match in store order" + (entry.hasPrivateKey ? "" : " — it has NO private key")))
            } else {
                selection.steps.append(.init(entry: entry, accepted: false, verdict: "also matches, but comes later in store order"))
            }
        }
        selection.twins = twins(of: selection.chosen)
        return selection
    }

    /// FQDN resolution (`FindBest`): exact names first, then wildcards; candidates need a usable key and TLS
    /// server usage; newest NotBefore first; a trusted CA-issued certificate beats a self-signed one. Archived
    /// certificates are not candidates.
    public func resolve(fqdn: String) -> CertificateSelection {
        var selection = CertificateSelection(status: .notFound, method: .fqdn(fqdn))
        for wildcard in [false, true] {
            let matching = personal.filter { !$0.storeProperties.archived && Self.matches(fqdn, names: $0.properties.dnsNameList, wildcard: wildcard) }
                .sorted { ($0.properties.notBefore ?? .distantPast) > ($1.properties.notBefore ?? .distantPast) }
            var selfSigned: StoreEntry? = nil
            var expiredCAIssued: StoreEntry? = nil
            for entry in matching {
                let pass = wildcard ? "wildcard match" : "exact match"
                if let reason = Self.tlsRejection(entry) {
                    selection.steps.append(.init(entry: entry, accepted: false, verdict: "\(pass), rejected: \(reason)"))
                    continue
                }
                let chain = chainResult(for: entry)
                if entry.properties.isSelfSigned {
                    if selfSigned == nil { selfSigned = entry }
                    selection.steps.append(.init(entry: entry, accepted: false, verdict: "\(pass), self-signed: kept as fallback"))
                } else if chain.outcome == .valid {
                    selection.chosen = entry
                    selection.steps.append(.init(entry: entry, accepted: true, verdict: "\(pass), chosen: newest trusted CA-issued certificate"))
                    break
                } else if chain.outcome == .dateInvalid {
                    if expiredCAIssued == nil { expiredCAIssued = entry }
                    selection.steps.append(.init(entry: entry, accepted: false, verdict: "\(pass), CA-issued but \(chain.errorText): kept as fallback"))
                } else {
                    selection.steps.append(.init(entry: entry, accepted: false, verdict: "\(pass), rejected: \(chain.errorText)"))
                }
            }
            if selection.chosen == nil, let fallback = expiredCAIssued ?? selfSigned {
                selection.chosen = fallback
                selection.steps.append(.init(entry: fallback, accepted: true, verdict: "chosen as fallback (no trusted, time-valid CA-issued certificate)"))
            }
            if selection.chosen != nil { break }
        }
        if selection.chosen != nil { selection.status = .match }
        selection.twins = twins(of: selection.chosen)
        return selection
    }

    /// Why a certificate cannot serve TLS for Exchange's FQDN selection, or nil when it can.
    static func tlsRejection(_ entry: StoreEntry) -> String? {
        let p = entry.properties
        if p.version < 3 { return "X.509 version \(p.version) (3 is required)" }
        if !entry.hasPrivateKey { return "certificate does not have an associated private key (\(entry.keyStatus.rawValue))" }
        if let usage = p.keyUsage, !usage.contains(.digitalSignature), !usage.contains(.nonRepudiation) { return "key usage forbids signing" }
        if !p.allowsServerAuthentication { return "extended key usage lacks Server Authentication" }
        if p.keyAlgorithm == "RSA" && p.publicKeySize < 1024 { return "key smaller than 1024 bits" }
        return nil
    }

    /// Exchange's FQDN match: exact (case-insensitive), or a `*.` wildcard covering exactly one more label.
    static func matches(_ fqdn: String, names: [String], wildcard: Bool) -> Bool {
        let target = fqdn.lowercased()
        return names.contains { name in
            let candidate = name.lowercased()
            if !wildcard { return candidate == target }
            guard candidate.hasPrefix("*.") else { return false }
            let suffix = candidate.dropFirst(1)  // ".contoso.com"
            guard target.hasSuffix(suffix), target.count > suffix.count else { return false }
            return !target.dropLast(suffix.count).contains(".")
        }
    }

    private func twins(of chosen: StoreEntry?) -> [StoreEntry] {
        guard let chosen else { return [] }
        let key = (DistinguishedName.normalize(chosen.properties.subjectString), DistinguishedName.normalize(chosen.properties.issuerString))
        let all = personal.filter {
            !$0.storeProperties.archived && DistinguishedName.normalize($0.properties.subjectString) == key.0 && DistinguishedName.normalize($0.properties.issuerString) == key.1
        }
        return all.count > 1 ? all : []
    }
}

extension ConnectorResolver {
    /// The kernel's host name (gethostname: no DNS lookup, unlike ProcessInfo.hostName).
    public static var localHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Memoised chain results, shared by a resolver and the copies `without(_:)` makes.
final class ChainMemo: @unchecked Sendable {
    private var results: [Thumbprint: ChainValidator.Result] = [:]
    private let lock = NSLock()

    func result(for key: Thumbprint, _ compute: () -> ChainValidator.Result) -> ChainValidator.Result {
        lock.lock()
        if let known = results[key] { lock.unlock(); return known }
        lock.unlock()
        let value = compute()
        lock.lock()
        results[key] = value
        lock.unlock()
        return value
    }

    func seed(_ key: Thumbprint, _ value: ChainValidator.Result) {
        lock.lock()
        results[key] = value
        lock.unlock()
    }
}
