import Foundation
import Synchronization

/// Judges certificates of a location the way the TLS stack would serve them (``TLSServerCheck``): the
/// certificate, its key from the store and the chain a deployment writes to `chain.pem`, at the security level
/// the daemons run at. Used by `enable` (refuses what the stack refuses), `audit` (CRITICAL for a bound or
/// connector-resolved certificate that fails) and the `TlsUsable`/`TlsProblem` listing properties.
///
/// Verdicts are kept per certificate, so asking twice costs one handshake; `CA` and `Root` are read once.
public final class TLSUsabilityJudge: Sendable {
    public let store: StoreLocation
    /// The OpenSSL security level asked for; nil means the system's (``TLSServerCheck/systemSecurityLevel``).
    public let securityLevel: Int?
    private let verdicts = Mutex<[Thumbprint: TLSUsability]>([:])
    private let authorities = Mutex<[(entry: StoreEntry, certificate: Certificate)]?>(nil)

    public init(store: StoreLocation, securityLevel: Int? = nil) {
        self.store = store
        self.securityLevel = securityLevel
    }

    /// The level verdicts are given at.
    public var effectiveSecurityLevel: Int { securityLevel ?? TLSServerCheck.systemSecurityLevel }

    /// Whether the stack would serve `entry` (a certificate without a usable key in the store cannot be served).
    public func verdict(for entry: StoreEntry) -> TLSUsability {
        if let known = verdicts.withLock({ $0[entry.thumbprint] }) { return known }
        let verdict = evaluate(entry)
        verdicts.withLock { $0[entry.thumbprint] = verdict }
        return verdict
    }

    private func evaluate(_ entry: StoreEntry) -> TLSUsability {
        guard entry.hasPrivateKey else {
            return TLSUsability(securityLevel: effectiveSecurityLevel,
                                problem: "the store holds no usable private key for it (\(entry.keyStatus.rawValue))", detail: nil)
        }
        do {
            guard let key = try store.privateKey(for: entry) else {
                return TLSUsability(securityLevel: effectiveSecurityLevel, problem: "its private key cannot be read", detail: nil)
            }
            let certificate = try entry.loadCertificate()
            // What `chain.pem` holds: the issuers up to, not including, a self-signed root.
            let chain = try Exporter.chain(for: entry, among: loadedAuthorities(near: entry))
                .filter { !$0.properties.isSelfSigned }.map { try $0.loadCertificate() }
            return TLSServerCheck.evaluate(certificate: certificate, key: key, chain: chain, securityLevel: securityLevel)
        } catch let error as CertStoreError {
            return TLSUsability(securityLevel: effectiveSecurityLevel, problem: "it cannot be read: \(error.message)", detail: nil)
        } catch {
            return TLSUsability(securityLevel: effectiveSecurityLevel, problem: "it cannot be read: \(error)", detail: nil)
        }
    }

    private func loadedAuthorities(near entry: StoreEntry) throws -> [(entry: StoreEntry, certificate: Certificate)] {
        if let loaded = authorities.withLock({ $0 }) { return loaded }
        let loaded = try [StoreName.ca, .root].flatMap { try store.entries(in: entry.store.sibling($0)).entries }
            .compactMap { candidate in (try? candidate.loadCertificate()).map { (entry: candidate, certificate: $0) } }
        authorities.withLock { $0 = loaded }
        return loaded
    }
}
