import Foundation
import Testing
@testable import CertStore

/// `check` takes what the store index vouches for and reads everything else again (issue 13, scale): its findings
/// never depend on whether the index was there.
@Suite("check uses what the index vouches for")
struct CheckIndexTests {
    private func findings(_ report: StoreChecker.Report) -> [String] {
        report.findings.map { "\($0.severity.name) \($0.check) \($0.object)" }
    }

    @Test("check with a warm index: the same findings, unchanged files vouched for, a tampered certificate still caught")
    func checkUsesIndex() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "leaf.key", "other.pem", "rsa.pem", "rsa.key"])
        try t.importFiles(["ca.pem"], options: TestStore.options { $0.target = TestStore.rootStore })
        // An orphan key and a properties file that is not JSON: findings either way.
        let orphan = try PrivateKey(bytes: t.fixtures.bytes("ed25519.key"), password: nil)
        let orphanURL = t.store.keysDirectory.appendingPathComponent("\(orphan.publicKeyIdentifier).key")
        try Data(try orphan.pkcs8PEM()).write(to: orphanURL)
        chmod(orphanURL.path, 0o600)
        let rsa = try t.fixtures.certificate("rsa.pem").thumbprint
        try Data("{not json".utf8).write(to: t.store.propertiesURL(rsa, in: TestStore.my))

        let cold = try StoreChecker(store: t.store).run(repair: false).value
        #expect(cold.vouchedByIndex == 0, "no index yet")
        #expect(findings(cold).contains { $0.hasPrefix("WARNING orphan-key") }, "\(findings(cold))")
        #expect(findings(cold).contains { $0.hasPrefix("CRITICAL unreadable-properties") }, "\(findings(cold))")

        for store in [TestStore.my, TestStore.rootStore] { _ = try t.store.entries(in: store) }
        let warm = try StoreChecker(store: t.store).run(repair: false).value
        #expect(findings(warm) == findings(cold))
        #expect(warm.filesChecked == cold.filesChecked)
        // Vouched for: 3 of the 4 certificates (rsa.pem has no record: its .json does not decode), their .json
        // files, and leaf.pem's key.
        #expect(warm.vouchedByIndex == 3 + 3 + 1, "\(warm.vouchedByIndex)")

        // other.pem's file now holds another certificate's bytes, with its old modification time put back.
        let other = try t.fixtures.certificate("other.pem").thumbprint
        let otherURL = t.store.certificateURL(other, in: TestStore.my)
        let mtime = try FileManager.default.attributesOfItem(atPath: otherURL.path)[.modificationDate] as! Date
        try Data(try t.fixtures.certificate("names.pem").der).write(to: otherURL)
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: otherURL.path)
        let tampered = try StoreChecker(store: t.store).run(repair: false).value
        #expect(findings(tampered).contains("CRITICAL name-mismatch \(otherURL.path)"), "\(findings(tampered))")
        #expect(tampered.vouchedByIndex == warm.vouchedByIndex - 2, "neither the .cer nor its .json")

        // The leaf's key swapped for another key of the same size, old modification time put back.
        let keyURL = try t.keyFile(for: "leaf.pem")
        let keyTime = try FileManager.default.attributesOfItem(atPath: keyURL.path)[.modificationDate] as! Date
        let replacement = try PrivateKey(bytes: t.fixtures.bytes("rsa.key"), password: nil).pkcs8PEM()
        try Data(replacement).write(to: keyURL)
        try FileManager.default.setAttributes([.modificationDate: keyTime], ofItemAtPath: keyURL.path)
        let swapped = try StoreChecker(store: t.store).run(repair: false).value
        #expect(findings(swapped).contains("CRITICAL key-name-mismatch \(keyURL.path)"), "\(findings(swapped))")
    }

    @Test("check ignores an index others can write: everything is read again, and the index is reported")
    func checkIgnoresUntrustedIndex() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "leaf.key", "other.pem"])
        _ = try t.store.entries(in: TestStore.my)
        let index = StoreIndex.url(t.store, TestStore.my)
        #expect(try StoreChecker(store: t.store).run(repair: false).value.vouchedByIndex > 0)
        #expect(chmod(index.path, 0o666) == 0)
        let report = try StoreChecker(store: t.store).run(repair: false).value
        #expect(report.vouchedByIndex == 0)
        #expect(report.findings.contains { $0.check == "untrusted-index" && $0.object == index.path })
    }
}
