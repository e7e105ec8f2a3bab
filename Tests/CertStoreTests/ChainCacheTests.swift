import Foundation
import Testing
@testable import CertStore

/// The Exchange view takes the chain verdicts kept in `.cache/My.chains` where they are what OpenSSL would answer,
/// and verifies everything else (issue 13, scale): what it shows never depends on whether the cache was there.
@Suite("Exchange view: kept chain verdicts")
struct ChainCacheTests {
    /// Root: ca.pem; My: leaf.pem (issued by it, 365 days, with its key).
    private func chainStore() throws -> TestStore {
        let t = try TestStore()
        try t.importFiles(["ca.pem"], options: TestStore.options { $0.target = TestStore.rootStore })
        try t.importFiles(["leaf.pem", "leaf.key"])
        return t
    }

    private func status(_ t: TestStore, at now: Date) throws -> ExchangeCertificate.Status? {
        let leaf = try t.fixtures.certificate("leaf.pem").thumbprint
        return try ExchangeCertificateView(store: t.store, now: now).certificates().first { $0.thumbprint == leaf }?.status
    }

    private func chainsFile(_ t: TestStore) -> URL { ChainCache.url(t.store) }

    private func stamp(_ url: URL) -> FileStamp? { FileStamp(path: url.path) }

    @Test("a kept chain verdict is reused only while no certificate's validity starts or ends in between")
    func verdictsFollowTime() throws {
        let t = try chainStore()
        // An hour ahead: the fixtures (and so the leaf's NotBefore) were made moments ago.
        let now = Date().addingTimeInterval(3600)
        #expect(try status(t, at: now) == .valid)
        let written = try #require(stamp(chainsFile(t)), "the view keeps its verdicts")
        // A day later nothing starts or ends: the kept verdict answers, and the file is not rewritten.
        #expect(try status(t, at: now.addingTimeInterval(86_400)) == .valid)
        #expect(stamp(chainsFile(t)) == written)
        // 400 days later the leaf (365 days) has expired: verified afresh, whatever the file says.
        #expect(try status(t, at: now.addingTimeInterval(400 * 86_400)) == .dateInvalid)
        #expect(stamp(chainsFile(t)) != written)
        // And back: the verdict kept 400 days ahead is not taken for today either.
        #expect(try status(t, at: now) == .valid)
    }

    /// A verdict file with the right context that says the leaf is Untrusted. Used from a `.cache` only the
    /// store's owner can write (which shows the view really reads it), ignored from one others can write.
    @Test("kept chain verdicts are believed only from a .cache nobody else can write")
    func forgedVerdicts() throws {
        let t = try chainStore()
        // An hour ahead: the fixtures (and so the leaf's NotBefore) were made moments ago.
        let now = Date().addingTimeInterval(3600)
        #expect(try status(t, at: now) == .valid)
        let resolver = try ConnectorResolver(store: t.store)
        let cache = ChainCache(validator: resolver.validator)
        let leaf = try t.fixtures.certificate("leaf.pem").thumbprint
        var kept = cache.load(chainsFile(t))
        try #require(kept[leaf] != nil, "\(kept)")
        kept[leaf] = ChainCache.Verdict(computedAt: ChainCache.time(now),
                                        result: ChainValidator.Result(outcome: .untrusted, errorCode: 20,
                                                                      errorText: "unable to get local issuer certificate", chain: [leaf]))
        try Data(cache.encode(kept)).write(to: chainsFile(t))
        #expect(try status(t, at: now) == .untrusted, "a kept verdict is used as it is")

        let cacheDirectory = chainsFile(t).deletingLastPathComponent()
        #expect(chmod(cacheDirectory.path, 0o777) == 0)
        defer { chmod(cacheDirectory.path, 0o755) }
        #expect(try status(t, at: now) == .valid, "a .cache others can write is not believed")
        #expect(cache.load(chainsFile(t))[leaf]?.result.outcome == .untrusted, "nor rewritten")
        let findings = t.store.trustFindings().index
        #expect(findings.contains { $0.check == "untrusted-index" && $0.object == cacheDirectory.path }, "\(findings)")

        #expect(chmod(cacheDirectory.path, 0o755) == 0)
        #expect(chmod(chainsFile(t).path, 0o666) == 0)
        #expect(try status(t, at: now) == .valid, "a verdict file others can write is not believed")
        #expect(t.store.trustFindings().index.contains { $0.object == chainsFile(t).path })
    }

    @Test("damaged or foreign kept verdicts are ignored", arguments: ["truncate", "flip", "garbage", "context"])
    func damagedVerdicts(damage: String) throws {
        let t = try chainStore()
        #expect(try status(t, at: Date()) == .valid)
        let url = chainsFile(t)
        var bytes = [UInt8](try Data(contentsOf: url))
        switch damage {
        case "truncate": bytes = Array(bytes.prefix(bytes.count - 1))
        case "flip": bytes[bytes.count / 2] ^= 0x40
        case "garbage": bytes = pseudoRandomBytes(count: 4096, seed: 11)
        default:
            // Another context (as if Root held other certificates), trailer recomputed.
            bytes[ChainCache.magic.count] ^= 0x01
            bytes = Array(bytes.dropLast(32))
            bytes += Digest.sha256(bytes)
        }
        try Data(bytes).write(to: url)
        let resolver = try ConnectorResolver(store: t.store)
        #expect(ChainCache(validator: resolver.validator).load(url).isEmpty)
        #expect(try status(t, at: Date()) == .valid)
        #expect(!ChainCache(validator: resolver.validator).load(url).isEmpty, "rewritten")
    }

    @Test("the context changes with Root: removing the root makes the leaf Untrusted although a verdict was kept")
    func contextFollowsRoot() throws {
        let t = try chainStore()
        #expect(try status(t, at: Date()) == .valid)
        let root = try t.fixtures.certificate("ca.pem").thumbprint
        try FileManager.default.removeItem(at: t.store.certificateURL(root, in: TestStore.rootStore))
        #expect(try status(t, at: Date()) == .untrusted)
    }
}
