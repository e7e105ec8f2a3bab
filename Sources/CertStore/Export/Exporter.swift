import Foundation

/// Exports a stored certificate as PEM, DER, or PKCS#12 with its key and chain.
public struct Exporter: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case pem, der, pfx

        /// From an output file name: .pfx/.p12 → pfx, .der/.cer → der, anything else → pem.
        public static func inferred(from path: String) -> Kind {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "pfx", "p12": return .pfx
            case "der", "cer": return .der
            default: return .pem
            }
        }
    }

    public let store: StoreLocation
    public init(store: StoreLocation) { self.store = store }

    /// Issuers of `entry` found in the location's `CA` and `Root` stores, nearest first, up to a self-signed root.
    public func chain(for entry: StoreEntry) throws -> [StoreEntry] {
        let authorities = try [StoreName.ca, .root].flatMap { try store.entries(in: entry.store.sibling($0)).entries }
        return Self.chain(for: entry, among: authorities.compactMap { candidate in (try? candidate.loadCertificate()).map { (candidate, $0) } })
    }

    /// Issuers of `entry` among `authorities` (loaded once by a caller that builds many chains), nearest first,
    /// up to a self-signed root. An issuer whose DSA key inherits its parameters (RFC 3279) is proved with its key
    /// completed along its own issuers among `authorities`, so the chain goes on through it.
    static func chain(for entry: StoreEntry, among authorities: [(entry: StoreEntry, certificate: Certificate)]) -> [StoreEntry] {
        var chain: [StoreEntry] = []
        var current = entry
        let certificates = authorities.map(\.certificate)
        while !current.properties.isSelfSigned, chain.count < 10, let subject = try? current.loadCertificate(),
              let issuer = authorities.first(where: { candidate in
                  candidate.entry.thumbprint != current.thumbprint && !chain.contains(where: { $0.thumbprint == candidate.entry.thumbprint })
                      && subject.isIssued(by: candidate.certificate, completingAmong: certificates)
              }) {
            chain.append(issuer.entry)
            current = issuer.entry
        }
        return chain
    }

    public func export(_ entry: StoreEntry, kind: Kind, includeChain: Bool, password: Password?,
                       encryption: PKCS12Writer.Encryption) throws -> [UInt8] {
        let chain = includeChain || kind == .pfx ? try self.chain(for: entry) : []
        switch kind {
        case .der:
            return try entry.loadCertificate().der
        case .pem:
            return Array(try ([entry] + (includeChain ? chain : [])).map { try $0.loadCertificate().pem }.joined().utf8)
        case .pfx:
            guard entry.hasPrivateKey, let key = try store.privateKey(for: entry) else {
                throw CertStoreError(.refused, "the certificate \(entry.thumbprint) has no usable private key (\(entry.keyStatus.rawValue)), so there is nothing to put in a PKCS#12 file",
                                     hint: "export the certificate alone as PEM or DER")
            }
            guard entry.storeProperties.exportable else {
                throw CertStoreError(.refused, "the private key of \(entry.thumbprint) was not imported as exportable",
                                     hint: "as on Windows, only keys imported with --exportable can be exported; re-import the original file with --exportable")
            }
            guard let password else {
                throw CertStoreError.usage("a PKCS#12 export needs a password",
                                           hint: "give it with --password-file, --password-stdin or --password-env, or run on a terminal to be asked")
            }
            return try PKCS12Writer.create(key: key, certificate: try entry.loadCertificate(), chain: try chain.map { try $0.loadCertificate() },
                                           password: password, friendlyName: entry.storeProperties.friendlyName,
                                           encryption: encryption)
        }
    }
}
