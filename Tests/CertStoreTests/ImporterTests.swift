import Foundation
import Testing
@testable import CertStore

@Suite("Importer")
struct ImporterTests {
    @Test("a PFX with key and chain: leaf with its key in My, the CA in CA")
    func pfxWithChain() throws {
        let t = try TestStore()
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        let result = try t.importFiles(["chain.pfx"], options: TestStore.options { $0.now = now })
        #expect(result.committed)
        #expect(result.failures.isEmpty)
        #expect(result.addedCount == 2)

        let leafThumbprint = try t.fixtures.certificate("leaf.pem").thumbprint
        let caThumbprint = try t.fixtures.certificate("ca.pem").thumbprint
        let leafItem = try #require(result.items.first { $0.thumbprint == leafThumbprint })
        #expect(leafItem.store.description == "LocalMachine/My")
        #expect(leafItem.action == .added)
        #expect(leafItem.hasPrivateKey)
        #expect(leafItem.subject == #"CN=mail.contoso.com, OU=IT, O="Contoso, Ltd", L=Redmond, S=Washington, C=US"#)
        #expect(leafItem.file == t.fixtures.path("chain.pfx"))
        let caItem = try #require(result.items.first { $0.thumbprint == caThumbprint })
        #expect(caItem.store.description == "LocalMachine/CA")
        #expect(!caItem.hasPrivateKey)

        let leaf = try #require(try t.entry("leaf.pem"))
        #expect(leaf.hasPrivateKey)
        #expect(leaf.keyStatus == .present)
        #expect(leaf.storeProperties.friendlyName == "Zürich Mail")
        #expect(leaf.storeProperties.exportable == false)
        #expect(leaf.storeProperties.source == "chain.pfx")
        #expect(leaf.storeProperties.importedAt == now)
        let ca = try #require(try t.entry("ca.pem", in: TestStore.ca))
        #expect(ca.keyStatus == .missing)
        #expect(try t.entry("ca.pem") == nil)

        #expect(try t.files(in: TestStore.my) == ["\(leafThumbprint).cer", "\(leafThumbprint).json"])
        #expect(try t.files(in: TestStore.ca) == ["\(caThumbprint).cer", "\(caThumbprint).json"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.store.keysDirectory.path) == ["\(leaf.properties.publicKeyIdentifier).key"])
        // The .cer is the exact DER.
        #expect([UInt8](try Data(contentsOf: t.store.directory(of: TestStore.my).appendingPathComponent("\(leafThumbprint).cer")))
                == (try t.fixtures.bytes("leaf.der")))
    }

    /// `--friendly-name` names what the file is for: its end-entity certificate(s), never the issuing CA that
    /// came along — whether the CA is new or was already in the store. A file of CA certificates alone (a root
    /// imported with a name) gives it to them.
    @Test("--friendly-name goes to the end-entity certificate, not to the CA that came with it", arguments: [false, true])
    func friendlyNameForEndEntityOnly(caAlreadyStored: Bool) throws {
        let t = try TestStore()
        if caAlreadyStored {
            try t.importFiles(["ca.pem"], options: TestStore.options { $0.friendlyName = "Contoso Root" })
            #expect(try t.entry("ca.pem", in: TestStore.ca)?.storeProperties.friendlyName == "Contoso Root")
        }
        let result = try t.importFiles(["chain.pfx"], options: TestStore.options { $0.friendlyName = "Mail 2026" })
        #expect(result.committed)
        #expect(try t.entry("leaf.pem")?.storeProperties.friendlyName == "Mail 2026")
        #expect(try t.entry("ca.pem", in: TestStore.ca)?.storeProperties.friendlyName == (caAlreadyStored ? "Contoso Root" : ""))
        let caItem = try #require(result.items.first { $0.thumbprint == (try? t.fixtures.certificate("ca.pem").thumbprint) })
        #expect(caItem.action == (caAlreadyStored ? .alreadyPresent : .added))
    }

    @Test("the stored key file is unencrypted PKCS#8 of the imported key")
    func storedKey() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        let text = String(decoding: try Data(contentsOf: try t.keyFile(for: "leaf.pem")), as: UTF8.self)
        #expect(text.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let key = try PrivateKey(bytes: Array(text.utf8), password: nil)
        #expect(try t.fixtures.certificate("leaf.pem").matches(key))
    }

    @Test("a bare certificate is keyless; its key file later re-links it", arguments: ["leaf.key", "leaf-sec1.der", "key-only.pfx"])
    func bareCertificateThenKey(keyFile: String) throws {
        let t = try TestStore()
        let first = try t.importFiles(["leaf.pem"])
        #expect(first.committed)
        #expect(first.items.map(\.action) == [.added])
        #expect(first.items.first?.store.description == "LocalMachine/My")
        #expect(first.items.first?.hasPrivateKey == false)
        #expect(try #require(try t.entry("leaf.pem")).keyStatus == .missing)

        let second = try t.importFiles([keyFile])
        #expect(second.committed)
        #expect(second.failures.isEmpty)
        #expect(second.items.map(\.action) == [.keyAdded])
        #expect(second.items.first?.thumbprint == (try t.fixtures.certificate("leaf.pem").thumbprint))
        #expect(second.items.first?.hasPrivateKey == true)
        #expect(try #require(try t.entry("leaf.pem")).keyStatus == .present)

        let third = try t.importFiles([keyFile])
        #expect(third.items.map(\.action) == [.alreadyPresent])
        #expect(try #require(try t.entry("leaf.pem")).keyStatus == .present)
    }

    @Test("a PFX re-links the key of a certificate imported bare")
    func bareCertificateThenPFX() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.der"])
        let result = try t.importFiles(["modern.pfx"], options: TestStore.options { $0.exportable = true })
        #expect(result.items.map(\.action) == [.keyAdded])
        let entry = try #require(try t.entry("leaf.pem"))
        #expect(entry.keyStatus == .present)
        #expect(entry.storeProperties.exportable)
    }

    @Test("re-importing says AlreadyPresent and duplicates nothing")
    func reimport() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"])
        let before = try t.snapshot()
        let again = try t.importFiles(["chain.pfx"])
        #expect(again.committed)
        #expect(again.items.count == 2)
        #expect(again.items.allSatisfy { $0.action == .alreadyPresent })
        #expect(again.alreadyPresentCount == 2)
        #expect(again.items.first { $0.store.description == "LocalMachine/My" }?.hasPrivateKey == true)
        #expect(try t.snapshot() == before)
        #expect(try t.files(in: TestStore.my).count == 2)
    }

    @Test("the result's JSON form uses the documented action names")
    func resultJSON() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem"])
        let result = try t.importFiles(["modern.pfx", "leaf-renewed.pem"])
        #expect(result.keyAddedCount == 1)
        #expect(result.addedCount == 1)
        let json = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        #expect(json.contains(#""action":"KeyAdded""#))
        #expect(json.contains(#""action":"Added""#))
        #expect(json.contains(#""committed":true"#))
        let decoded = try JSONDecoder().decode(ImportResult.self, from: Data(json.utf8))
        #expect(decoded.items == result.items)
    }

    @Test("re-importing with the key and exportable, or with a new friendly name, updates the store properties")
    func reimportUpdates() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"])
        #expect(try t.entry("leaf.pem")?.storeProperties.exportable == false)

        let exportable = try t.importFiles(["chain.pfx"], options: TestStore.options { $0.exportable = true })
        #expect(exportable.items.first { $0.store.description == "LocalMachine/My" }?.action == .updated)
        // The CA came without a key: nothing to make exportable.
        #expect(exportable.items.first { $0.store.description == "LocalMachine/CA" }?.action == .alreadyPresent)
        #expect(exportable.updatedCount == 1)
        #expect(try t.entry("leaf.pem")?.storeProperties.exportable == true)
        #expect(try t.entry("ca.pem", in: TestStore.ca)?.storeProperties.exportable == false)

        let renamed = try t.importFiles(["leaf.pem"], options: TestStore.options { $0.friendlyName = "Renamed" })
        #expect(renamed.items.map(\.action) == [.updated])
        #expect(try t.entry("leaf.pem")?.storeProperties.friendlyName == "Renamed")
        let before = try t.snapshot()
        let same = try t.importFiles(["leaf.pem"], options: TestStore.options { $0.friendlyName = "Renamed" })
        #expect(same.items.map(\.action) == [.alreadyPresent])
        #expect(try t.snapshot() == before)
    }

    @Test("re-importing the certificate alone never makes its key exportable")
    func exportableNeedsTheKey() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        let result = try t.importFiles(["leaf.pem"], options: TestStore.options { $0.exportable = true })
        #expect(result.items.map(\.action) == [.alreadyPresent])
        #expect(try t.entry("leaf.pem")?.storeProperties.exportable == false)
    }

    @Test("when nothing can be imported, nothing is written, not even the lock file")
    func failedImportLeavesNoTrace() throws {
        let t = try TestStore()
        let missing = t.root.appendingPathComponent("missing.pfx").path
        let result = try t.importFiles(["leaf.csr", "leaf.pem", missing])
        #expect(!result.committed)
        #expect(result.failures.map(\.kind) == [.badData, .inputUnreadable])
        #expect(result.failures.map(\.file) == [t.fixtures.path("leaf.csr"), missing])
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.root.path).isEmpty)
    }

    @Test("the same certificate twice in one batch is added once")
    func duplicateInBatch() throws {
        let t = try TestStore()
        let result = try t.importFiles(["leaf.pem", "leaf.der"])
        #expect(result.committed)
        #expect(result.addedCount == 1)
        #expect(try t.files(in: TestStore.my).count == 2)
    }

    @Test("a key that matches nothing fails and leaves the store byte-for-byte unchanged", arguments: ["other.key", "rsa-trad.pem"])
    func orphanKey(keyFile: String) throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"])
        let before = try t.snapshot()
        #expect(!before.isEmpty)
        let result = try t.importFiles([keyFile])
        #expect(!result.committed)
        #expect(result.items.isEmpty)
        #expect(result.failures.count == 1)
        #expect(result.failures.first?.file == t.fixtures.path(keyFile))
        #expect(result.failures.first?.message.contains("matches no certificate") == true)
        #expect(try t.snapshot() == before)
    }

    @Test("a batch with one bad file imports nothing")
    func batchWithBadFile() throws {
        let t = try TestStore()
        try t.importFiles(["other.pem"])
        let garbage = try Scratch.makeDirectory("garbage").appendingPathComponent("garbage.bin")
        try Data(pseudoRandomBytes(count: 512, seed: 99)).write(to: garbage)
        let before = try t.snapshot()

        let result = try t.importFiles(["chain.pfx", garbage.path, "rsa.pem"])
        #expect(!result.committed)
        #expect(result.items.isEmpty)
        #expect(result.failures.map(\.file) == [garbage.path])
        #expect(try t.snapshot() == before)
    }

    @Test("skipInvalid imports the good files and reports the bad ones")
    func skipInvalid() throws {
        let t = try TestStore()
        let missing = t.root.appendingPathComponent("no-such-file.pem").path
        let result = try t.importFiles(["chain.pfx", "leaf.csr", missing, "other.key"],
                                       options: TestStore.options { $0.skipInvalid = true })
        #expect(result.committed)
        #expect(result.addedCount == 2)
        #expect(Set(result.failures.map(\.file)) == [t.fixtures.path("leaf.csr"), missing, t.fixtures.path("other.key")])
        #expect(try #require(try t.entry("leaf.pem")).hasPrivateKey)
        #expect(try t.entry("ca.pem", in: TestStore.ca) != nil)
    }

    @Test("a certificate and its key given as two files of one batch",
          arguments: [["leaf.pem", "leaf.key"], ["leaf.key", "leaf.pem"]])
    func certificateAndKeyTogether(files: [String]) throws {
        let t = try TestStore()
        let result = try t.importFiles(files)
        #expect(result.failures.isEmpty, "\(result.failures)")
        #expect(result.committed)
        #expect(try t.entry("leaf.pem")?.keyStatus == .present)
    }

    @Test("a renewed certificate with the same key finds the key already in the store")
    func renewal() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        let result = try t.importFiles(["leaf-renewed.pem"])
        #expect(result.items.map(\.action) == [.added])
        #expect(result.items.first?.hasPrivateKey == true)
        #expect(try t.entry("leaf-renewed.pem")?.keyStatus == .present)
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.store.keysDirectory.path).count == 1)
    }

    @Test("one key file re-links every keyless certificate of its public key")
    func keyForTwoCertificates() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "leaf-renewed.pem"])
        let result = try t.importFiles(["leaf.key"])
        #expect(result.items.count == 2)
        #expect(result.items.allSatisfy { $0.action == .keyAdded && $0.hasPrivateKey })
        #expect(Set(result.items.map(\.thumbprint)) == [try t.fixtures.certificate("leaf.pem").thumbprint,
                                                         try t.fixtures.certificate("leaf-renewed.pem").thumbprint])
        #expect(try t.entry("leaf.pem")?.keyStatus == .present)
        #expect(try t.entry("leaf-renewed.pem")?.keyStatus == .present)
    }

    @Test("an Ed25519 PFX imports with its key")
    func ed25519() throws {
        let t = try TestStore()
        let result = try t.importFiles(["ed25519.pfx"])
        #expect(result.items.first?.hasPrivateKey == true)
        #expect(try t.entry("ed25519.pem")?.keyStatus == .present)
    }

    @Test("a PEM bundle with certificate and key")
    func pemBundle() throws {
        let t = try TestStore()
        let result = try t.importFiles(["leaf-bundle.pem"])
        #expect(result.items.map(\.action) == [.added])
        #expect(result.items.first?.hasPrivateKey == true)
        #expect(try t.entry("leaf.pem")?.keyStatus == .present)
    }

    @Test("where keyless certificates go", arguments: [
        ("ca.pem", "LocalMachine/My", "LocalMachine/CA"),      // a CA without key, target My → CA
        ("ca.pem", "LocalMachine/Root", "LocalMachine/Root"),
        ("other.pem", "LocalMachine/CA", "LocalMachine/CA"),
    ])
    func placement(file: String, target: String, expected: String) throws {
        let t = try TestStore()
        let result = try t.importFiles([file], options: TestStore.options { $0.target = try! StorePath(parsing: target) })
        #expect(result.items.map(\.store.description) == [expected])
        #expect(try t.store.entries(in: try StorePath(parsing: expected)).entries.map(\.thumbprint)
                == [try t.fixtures.certificate(file).thumbprint])
    }

    @Test("a target in another location never lands in the store's own location")
    func targetInAnotherLocation() throws {
        let t = try TestStore()  // a LocalMachine store
        let target = try StorePath(parsing: "CurrentUser/My")
        // Refusing the import would be fine; reporting CurrentUser/My while writing LocalMachine/My is not.
        if let result = try? t.importFiles(["other.pem"], options: TestStore.options { $0.target = target }), result.committed {
            #expect(result.items.map(\.store.description) == ["CurrentUser/My"])
            let currentUser = StoreLocation(root: t.root, location: "CurrentUser")
            #expect(try currentUser.entries(in: target).entries.count == 1)
        }
        #expect(try t.store.entries(in: TestStore.my).entries.isEmpty)
    }

    @Test("a CA certificate that comes with its key stays in the target store")
    func authorityWithKey() throws {
        let t = try TestStore()
        let bundle = try Scratch.makeDirectory("ca-bundle").appendingPathComponent("ca-with-key.pem")
        try Data(try t.fixtures.bytes("ca.pem") + t.fixtures.bytes("ca.key")).write(to: bundle)
        let result = try t.importFiles([bundle.path])
        #expect(result.items.map(\.store.description) == ["LocalMachine/My"])
        #expect(result.items.first?.hasPrivateKey == true)
        #expect(try t.entry("ca.pem")?.keyStatus == .present)
        #expect(try t.store.entries(in: TestStore.ca).entries.isEmpty)
    }

    @Test("a PKCS#7 bundle: the leaf in My, the CA in CA")
    func pkcs7() throws {
        let t = try TestStore()
        let result = try t.importFiles(["bundle-der.p7b"])
        #expect(Set(result.items.map(\.store.description)) == ["LocalMachine/My", "LocalMachine/CA"])
        #expect(try t.entry("leaf.pem") != nil)
        #expect(try t.entry("ca.pem", in: TestStore.ca) != nil)
    }

    @Test("passwords: none given fails with passwordRequired, asked for, or wrong")
    func passwords() throws {
        let t = try TestStore()
        let none = try t.importFiles(["modern.pfx"], options: TestStore.options(password: nil))
        #expect(!none.committed)
        #expect(none.failures.first?.message == CertStoreError.passwordRequired.message)

        let wrong = try t.importFiles(["modern.pfx"], options: TestStore.options(password: "wrong"))
        #expect(wrong.failures.first?.message.hasPrefix("wrong password") == true)
        #expect(try t.store.entries(in: TestStore.my).entries.isEmpty)

        let askedFor = LockedBox<[String]>([])
        let asked = try t.importFiles(["modern.pfx"], options: TestStore.options(password: nil) {
            $0.askPassword = { file in
                askedFor.withLock { $0.append(file) }
                return Password(Fixtures.pfxPassword)
            }
        })
        #expect(asked.committed)
        #expect(askedFor.withLock { $0 } == [t.fixtures.path("modern.pfx")])
        #expect(try t.entry("leaf.pem")?.hasPrivateKey == true)
    }

    @Test("the friendly name option overrides the file's; a bad one is a usage error")
    func friendlyNames() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"], options: TestStore.options { $0.friendlyName = "Exchange 2025" })
        #expect(try t.entry("leaf.pem")?.storeProperties.friendlyName == "Exchange 2025")
        #expect(try t.entry("ca.pem", in: TestStore.ca)?.storeProperties.friendlyName == "")   // the CA keeps its own (none)

        for bad in [String(repeating: "x", count: 64), "tab\there"] {
            let error = try #require(throws: CertStoreError.self) {
                try t.importFiles(["other.pem"], options: TestStore.options { $0.friendlyName = bad })
            }
            #expect(error.kind == .usage)
        }
        #expect(try t.entry("other.pem") == nil)
    }

    @Test("a damaged key (halves disagree) is refused")
    func inconsistentKey() throws {
        let t = try TestStore()
        let file = try Scratch.makeDirectory("bad-key").appendingPathComponent("bad.pem")
        try Data(try t.fixtures.bytes("other.pem") + Fixtures.pem(try t.fixtures.inconsistentKeyDER(), label: "EC PRIVATE KEY")).write(to: file)
        let result = try t.importFiles([file.path])
        #expect(!result.committed)
        #expect(result.failures.first?.message.contains("damaged") == true)
        #expect(try t.entry("other.pem") == nil)
    }

    @Test("a mismatched key file is replaced by importing the right key")
    func mismatchedKeyIsRepaired() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        let keyURL = try t.keyFile(for: "leaf.pem")
        try Data(try t.fixtures.bytes("other.key")).write(to: keyURL)
        #expect(try t.entry("leaf.pem")?.keyStatus == .mismatched)

        let result = try t.importFiles(["modern.pfx"])
        #expect(result.items.map(\.action) == [.keyAdded])
        #expect(try t.entry("leaf.pem")?.keyStatus == .present)
        #expect(try fileMode(keyURL) == 0o600)
    }

    @Test("exportable is recorded only for certificates imported with a key")
    func exportableFlag() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"], options: TestStore.options { $0.exportable = true })
        #expect(try t.entry("leaf.pem")?.storeProperties.exportable == true)
        #expect(try t.entry("ca.pem", in: TestStore.ca)?.storeProperties.exportable == false)
    }

    @Test("a key re-linked with exportable makes the certificate exportable")
    func exportableOnKeyRelink() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem"])
        try t.importFiles(["leaf.key"], options: TestStore.options { $0.exportable = true })
        #expect(try t.entry("leaf.pem")?.storeProperties.exportable == true)
    }

    @Test("a busy store: the import waits, then fails with kind busy")
    func busy() throws {
        let t = try TestStore()
        try t.store.withWriteLock {
            let other = StoreLocation(root: t.root, lockTimeout: 0.1)
            let error = try #require(throws: CertStoreError.self) {
                try Importer(store: other).importFiles([t.fixtures.path("leaf.pem")], options: TestStore.options())
            }
            #expect(error.kind == .busy)
        }
        #expect(try t.entry("leaf.pem") == nil)
        // Released: the next import goes through.
        #expect(try t.importFiles(["leaf.pem"]).committed)
    }
}

/// A tiny lock-protected box for values written from `@Sendable` callbacks.
final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

@Suite("Importer: no keyless end-entity certificate enters My by accident")
struct KeylessImportTests {
    static func strict(_ configure: (inout Importer.Options) -> Void = { _ in }) -> Importer.Options {
        TestStore.options { options in
            options.allowKeyless = false
            configure(&options)
        }
    }

    @Test("a bare end-entity certificate is refused (refused, nothing written) with the KB explanation; the PKCS#7 with it too")
    func refused() throws {
        let t = try TestStore()
        for file in ["leaf.pem", "bundle-der.p7b"] {
            let result = try t.importFiles([file], options: Self.strict())
            #expect(!result.committed)
            #expect(result.items.isEmpty)
            let failure = try #require(result.failures.first)
            #expect(failure.kind == .refused)
            #expect(failure.message.contains("KB 4495258"))
            #expect(failure.message.contains("The key is on the machine that made the certificate's request"))
            #expect(failure.hint?.contains("PKCS#12") == true)
            #expect(failure.hint?.contains("--allow-keyless") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: t.store.directory(of: TestStore.my).path))
        #expect(!FileManager.default.fileExists(atPath: t.store.directory(of: TestStore.ca).path))
    }

    @Test("with --skip-invalid only the keyless file is left out")
    func skipInvalid() throws {
        let t = try TestStore()
        let result = try t.importFiles(["leaf.pem", "ca.pem"], options: Self.strict { $0.skipInvalid = true })
        #expect(result.committed)
        #expect(result.failures.map(\.kind) == [.refused])
        #expect(result.items.map(\.store.description) == ["LocalMachine/CA"])
    }

    @Test("not refused: with its key in the call, with its key already in the store, already in My, CA certificates, Root and CA imports")
    func notRefused() throws {
        let t = try TestStore()
        #expect(try t.importFiles(["leaf.pem", "leaf.key"], options: Self.strict()).committed)   // key in the same call
        let u = try TestStore()
        #expect(try u.importFiles(["ca.pem"], options: Self.strict()).items.map(\.store.description) == ["LocalMachine/CA"])
        #expect(try u.importFiles(["leaf.pem"], options: Self.strict { $0.target = TestStore.rootStore }).committed)
        #expect(try u.importFiles(["leaf.pem"], options: Self.strict { $0.target = TestStore.ca }).committed)
        // A keyless certificate already in My (imported on purpose) is not refused again.
        #expect(try u.importFiles(["leaf.pem"]).committed)
        let again = try u.importFiles(["leaf.pem"], options: Self.strict())
        #expect(again.committed && again.items.map(\.action) == [.alreadyPresent])
        // A renewal whose key the store already has (the same key, e.g. a reused-key renewal): not keyless.
        let v = try TestStore()
        #expect(try v.importFiles(["modern.pfx"], options: Self.strict()).committed)
        let renewed = try v.importFiles(["leaf-renewed.pem"], options: Self.strict())
        #expect(renewed.failures.isEmpty, "\(renewed.failures)")
        #expect(renewed.items.first?.hasPrivateKey == true)
    }

    @Test("allowKeyless imports it, with a warning naming it")
    func allowed() throws {
        let t = try TestStore()
        let result = try t.importFiles(["leaf.pem"], options: Self.strict { $0.allowKeyless = true })
        #expect(result.committed)
        #expect(result.items.first?.hasPrivateKey == false)
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.message.contains("--allow-keyless") == true)
    }
}
