import Foundation

/// Chain verdicts kept between runs in `<location>/.cache/My.chains`, beside the store index.
///
/// The index knows each certificate's properties and key check, but not whether its chain verifies, and
/// `X509_verify_cert` of every certificate with a usable key was what made `list --view exchange` slow
/// (issue 13: 7.8 s at 50,000 certificates against 0.5 s for a warm `list`). What OpenSSL answers depends on
///
/// * the certificate, named by its thumbprint (the SHA-1 of its DER, which the listing checked against the file),
/// * the trust anchors and intermediates it is given, in that order (the `Root` and `CA` stores), and OpenSSL
///   (its version, and the configuration the environment names),
/// * the time, only through whether each of those certificates is inside its validity period.
///
/// So the file holds one *context* (a SHA-256 of the second point) and, per certificate, the verdict with the
/// time it was computed at. A verdict is reused only within the same context, and only when no certificate
/// involved — the certificate itself, any root or intermediate — starts or ends its validity between then and
/// now (with two seconds' margin either side). Everything else is verified afresh. Like the index, the file is
/// derived data: believed only when `.cache` and the file pass the store's trust rule, ignored when damaged
/// (SHA-256 trailer), truncated or foreign, written only when the writer lock is free at once.
struct ChainCache: Sendable {
    struct Verdict: Sendable {
        /// `time_t` of the verification time, as `ChainValidator` hands it to OpenSSL.
        let computedAt: Int64
        let result: ChainValidator.Result
    }

    static let magic: [UInt8] = Array("CSCHN001".utf8)
    static let fileName = "My.chains"

    /// SHA-256 of what every verdict depends on besides the certificate and the time.
    let context: [UInt8]
    /// Every notBefore and notAfter of the roots and intermediates, in seconds, sorted. nil when one of them has
    /// a time certstore cannot read: then no verdict is ever reused.
    private let boundaries: [Double]?

    init(validator: ChainValidator) {
        var text = "certstore chain verdicts 2\nOpenSSL \(OpenSSLProviders.version)\n"
        let environment = ProcessInfo.processInfo.environment
        for name in ["OPENSSL_CONF", "OPENSSL_MODULES"] { text += "\(name)=\(environment[name] ?? "")\n" }
        text += "roots " + validator.roots.map(\.thumbprint.value).joined(separator: ",") + "\n"
        text += "intermediates " + validator.intermediates.map(\.thumbprint.value).joined(separator: ",") + "\n"
        context = Digest.sha256(Array(text.utf8))
        var times: [Double] = []
        var readable = true
        for certificate in validator.roots + validator.intermediates {
            let properties = certificate.properties()
            guard let notBefore = properties.notBefore, let notAfter = properties.notAfter else { readable = false; break }
            times += [notBefore.timeIntervalSince1970, notAfter.timeIntervalSince1970]
        }
        boundaries = readable ? times.sorted() : nil
    }

    static func url(_ store: StoreLocation) -> URL {
        store.directory.appendingPathComponent(".cache", isDirectory: true).appendingPathComponent(fileName)
    }

    /// The verification time of `date` as `ChainValidator` gives it to OpenSSL.
    static func time(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970) }

    /// Whether `verdict`, kept for a certificate with `properties`, is what OpenSSL would answer at `time`.
    func reusable(_ verdict: Verdict, properties: CertificateProperties, at time: Int64) -> Bool {
        guard let boundaries, let notBefore = properties.notBefore, let notAfter = properties.notAfter else { return false }
        let low = Double(min(verdict.computedAt, time) - 2), high = Double(max(verdict.computedAt, time) + 2)
        func between(_ value: Double) -> Bool { value >= low && value <= high }
        if between(notBefore.timeIntervalSince1970) || between(notAfter.timeIntervalSince1970) { return false }
        // The first boundary at or after `low` must lie after `high`.
        var lower = 0, upper = boundaries.count
        while lower < upper {
            let middle = (lower + upper) / 2
            if boundaries[middle] < low { lower = middle + 1 } else { upper = middle }
        }
        return lower == boundaries.count || boundaries[lower] > high
    }

    /// The verdicts in the file at `url`, by thumbprint; empty when there is none, or it is damaged, truncated,
    /// foreign or of another context. The caller checks that the file may be trusted at all.
    func load(_ url: URL) -> [Thumbprint: Verdict] {
        guard let bytes = try? FileSystem.read(url, limit: 1 << 30), bytes.count >= Self.magic.count + 64,
              bytes.prefix(Self.magic.count).elementsEqual(Self.magic) else { return [:] }
        let bodyEnd = bytes.count - 32
        let digest = bytes.withUnsafeBytes { Digest.sha256(UnsafeRawBufferPointer(rebasing: $0[..<bodyEnd])) }
        guard bytes[bodyEnd...].elementsEqual(digest),
              bytes[Self.magic.count..<(Self.magic.count + 32)].elementsEqual(context) else { return [:] }
        do {
            var reader = ByteReader(bytes, range: (Self.magic.count + 32)..<bodyEnd)
            let count = try reader.varint()
            guard count <= UInt64(bodyEnd) else { return [:] }
            var verdicts: [Thumbprint: Verdict] = [:]
            verdicts.reserveCapacity(Int(count))
            for _ in 0..<count {
                // Thumbprints as certstore writes them, or the file is not one of ours.
                guard let thumbprint = Thumbprint(canonical: try reader.string()) else { return [:] }
                let computedAt = Int64(try reader.int())
                guard let outcome = ChainValidator.Result.Outcome(rawValue: try reader.string()) else { return [:] }
                let code = try reader.int()
                guard let errorCode = Int32(exactly: code) else { return [:] }
                let errorText = try reader.string()
                let length = try reader.varint()
                guard length <= 64 else { return [:] }
                var chain: [Thumbprint] = []
                for _ in 0..<length {
                    guard let member = Thumbprint(canonical: try reader.string()) else { return [:] }
                    chain.append(member)
                }
                verdicts[thumbprint] = Verdict(computedAt: computedAt,
                                               result: ChainValidator.Result(outcome: outcome, errorCode: errorCode, errorText: errorText, chain: chain))
            }
            guard reader.isAtEnd else { return [:] }
            return verdicts
        } catch {
            return [:]
        }
    }

    /// The file's bytes for `verdicts` (in thumbprint order, so the same verdicts give the same file).
    func encode(_ verdicts: [Thumbprint: Verdict]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Self.magic)
        writer.raw(context)
        writer.varint(UInt64(verdicts.count))
        for (thumbprint, verdict) in verdicts.sorted(by: { $0.key < $1.key }) {
            writer.string(thumbprint.value)
            writer.int(Int(verdict.computedAt))
            writer.string(verdict.result.outcome.rawValue)
            writer.int(Int(verdict.result.errorCode))
            writer.string(verdict.result.errorText)
            writer.varint(UInt64(verdict.result.chain.count))
            for thumbprint in verdict.result.chain { writer.string(thumbprint.value) }
        }
        var bytes = writer.bytes
        bytes += Digest.sha256(bytes)
        return bytes
    }
}

extension ConnectorResolver {
    /// Verifies the chains of `entries` ahead of `chainResult(for:)`: verdicts the store's chain cache vouches
    /// for (`ChainCache`) are taken from it, the others are verified on all cores, and the cache is saved when
    /// anything was verified afresh (only when the writer lock is free at once, as the index is). Afterwards
    /// `chainResult(for:)` answers from memory for each of them, exactly as it would have answered itself.
    func verifyChains(of entries: [StoreEntry], store: StoreLocation) {
        let cache = ChainCache(validator: validator)
        let url = ChainCache.url(store)
        let kept = store.indexProblem(url) == nil ? cache.load(url) : [:]
        let time = ChainCache.time(now)
        var verdicts: [Thumbprint: ChainCache.Verdict] = [:]
        var missing: [StoreEntry] = []
        for entry in entries {
            if let verdict = kept[entry.thumbprint], cache.reusable(verdict, properties: entry.properties, at: time) {
                seedChainResult(verdict.result, for: entry.thumbprint)
                verdicts[entry.thumbprint] = verdict
            } else {
                missing.append(entry)
            }
        }
        let lanes = missing.count < 64 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let unverified = missing
        let fresh = concurrentMap(count: unverified.count, lanes: lanes) { chainResult(for: unverified[$0]) }
        for (entry, result) in zip(missing, fresh) where result.errorCode != -1 {
            // -1: the file could not be read or OpenSSL could not start; asked again next time.
            verdicts[entry.thumbprint] = ChainCache.Verdict(computedAt: time, result: result)
        }
        guard !missing.isEmpty || verdicts.count != kept.count else { return }
        let bytes = cache.encode(verdicts)
        store.saveCache(to: url) { write in try bytes.withUnsafeBytes(write) }
    }
}
