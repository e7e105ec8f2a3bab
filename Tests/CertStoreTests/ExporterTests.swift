import Foundation
import Testing
@testable import CertStore

@Suite("Exporter")
struct ExporterTests {
    static func leafEntry(_ t: TestStore) throws -> StoreEntry { try #require(try t.entry("leaf.pem")) }

    @Test("PFX export is refused when the key was not imported as exportable")
    func notExportable() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"])
        let entry = try Self.leafEntry(t)
        #expect(entry.hasPrivateKey)
        let error = try #require(throws: CertStoreError.self) {
            try Exporter(store: t.store).export(entry, kind: .pfx, includeChain: true, password: Password("pw"), encryption: .modern)
        }
        #expect(error.kind == .refused)
        #expect(error.message.contains("exportable"))
    }

    @Test("PFX export is refused without a usable key", arguments: [false, true])
    func keyless(swapKey: Bool) throws {
        let t = try TestStore()
        if swapKey {
            try t.importFiles(["modern.pfx"], options: TestStore.options { $0.exportable = true })
            try Data(try t.fixtures.bytes("other.key")).write(to: try t.keyFile(for: "leaf.pem"))
        } else {
            try t.importFiles(["leaf.pem"])
        }
        let entry = try Self.leafEntry(t)
        let error = try #require(throws: CertStoreError.self) {
            try Exporter(store: t.store).export(entry, kind: .pfx, includeChain: false, password: Password("pw"), encryption: .modern)
        }
        #expect(error.kind == .refused)
        #expect(error.message.contains(swapKey ? "Mismatched" : "Missing"))
    }

    @Test("PFX export needs a password")
    func needsPassword() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"], options: TestStore.options { $0.exportable = true })
        let error = try #require(throws: CertStoreError.self) {
            try Exporter(store: t.store).export(try Self.leafEntry(t), kind: .pfx, includeChain: false, password: nil, encryption: .modern)
        }
        #expect(error.kind == .usage)
    }

    @Test("an exportable key exports, and the PFX re-imports into a fresh store", arguments: PKCS12Writer.Encryption.allCases)
    func exportAndReimport(encryption: PKCS12Writer.Encryption) throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"], options: TestStore.options { $0.exportable = true })
        let entry = try Self.leafEntry(t)
        let pfx = try Exporter(store: t.store).export(entry, kind: .pfx, includeChain: false, password: Password("export"),
                                                      encryption: encryption)
        let file = try Scratch.makeDirectory("export").appendingPathComponent("leaf.pfx")
        try Data(pfx).write(to: file)
        _ = try t.fixtures.openssl("pkcs12", "-in", file.path, "-info", "-noout", "-passin", "pass:export")

        let fresh = try TestStore()
        let result = try fresh.importFiles([file.path], options: TestStore.options(password: "export"))
        #expect(result.committed)
        let leafItem = try #require(result.items.first { $0.store.description == "LocalMachine/My" })
        #expect(leafItem.thumbprint == entry.thumbprint)
        #expect(leafItem.hasPrivateKey)
        let reimported = try #require(try fresh.entry("leaf.pem"))
        #expect(reimported.keyStatus == .present)
        #expect(reimported.storeProperties.friendlyName == "Zürich Mail")
        // The chain came along: the CA is in the fresh store's CA store.
        #expect(try fresh.entry("ca.pem", in: TestStore.ca) != nil)
        // The key is the same key.
        #expect([UInt8](try Data(contentsOf: try fresh.keyFile(for: "leaf.pem"))) == [UInt8](try Data(contentsOf: try t.keyFile(for: "leaf.pem"))))
    }

    @Test("DER and PEM exports, with and without the chain")
    func certificateExports() throws {
        let t = try TestStore()
        try t.importFiles(["chain.pfx"])
        let entry = try Self.leafEntry(t)
        let exporter = Exporter(store: t.store)
        let leafPEM = try t.fixtures.certificate("leaf.pem").pem, caPEM = try t.fixtures.certificate("ca.pem").pem

        #expect(try exporter.export(entry, kind: .der, includeChain: true, password: nil, encryption: .modern) == (try t.fixtures.bytes("leaf.der")))
        let pem = String(decoding: try exporter.export(entry, kind: .pem, includeChain: false, password: nil, encryption: .modern), as: UTF8.self)
        #expect(pem == leafPEM)
        let chained = String(decoding: try exporter.export(entry, kind: .pem, includeChain: true, password: nil, encryption: .modern), as: UTF8.self)
        #expect(chained == leafPEM + caPEM)
        // A keyless, non-exportable certificate exports as PEM/DER all the same.
        let ca = try #require(try t.entry("ca.pem", in: TestStore.ca))
        #expect(try exporter.export(ca, kind: .der, includeChain: false, password: nil, encryption: .modern) == (try t.fixtures.certificate("ca.pem").der))
    }

    @Test("chain(for:) walks CA and Root up to a self-signed certificate")
    func chain() throws {
        let t = try TestStore()
        let exporter = Exporter(store: t.store)
        try t.importFiles(["modern.pfx"])
        #expect(try exporter.chain(for: try Self.leafEntry(t)).isEmpty)

        try t.importFiles(["ca.pem"], options: TestStore.options { $0.target = TestStore.rootStore })
        let chain = try exporter.chain(for: try Self.leafEntry(t))
        #expect(chain.map(\.thumbprint) == [try t.fixtures.certificate("ca.pem").thumbprint])
        #expect(chain.map(\.store) == [TestStore.rootStore])
        #expect(try exporter.chain(for: chain[0]).isEmpty)
    }

    @Test("export kind from the output file name", arguments: [
        ("out.pfx", Exporter.Kind.pfx), ("OUT.P12", .pfx), ("a/b.der", .der), ("x.CER", .der),
        ("x.pem", .pem), ("x.crt", .pem), ("noextension", .pem),
    ])
    func inferredKind(path: String, kind: Exporter.Kind) {
        #expect(Exporter.Kind.inferred(from: path) == kind)
    }
}

@Suite("OutputFile")
struct OutputFileTests {
    @Test("new files: 0600 when secret, 0644 otherwise, whatever the contents")
    func modes() throws {
        let directory = try Scratch.makeDirectory("out")
        let secret = directory.appendingPathComponent("key.pfx"), plain = directory.appendingPathComponent("cert.pem")
        try OutputFile.write([1, 2, 3], to: secret.path, secret: true, overwrite: false)
        try OutputFile.write(Array("pem".utf8), to: plain.path, secret: false, overwrite: false)
        #expect(try fileMode(secret) == 0o600)
        #expect(try fileMode(plain) == 0o644)
        #expect([UInt8](try Data(contentsOf: secret)) == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["cert.pem", "key.pfx"])
    }

    @Test("an existing file is kept unless overwrite is asked for")
    func existing() throws {
        let file = try Scratch.makeDirectory("out").appendingPathComponent("a.pem")
        try Data("old".utf8).write(to: file)
        let error = try #require(throws: CertStoreError.self) { try OutputFile.write(Array("new".utf8), to: file.path, secret: false, overwrite: false) }
        #expect(error.kind == .refused)
        #expect(try String(contentsOf: file, encoding: .utf8) == "old")
        try OutputFile.write(Array("new".utf8), to: file.path, secret: true, overwrite: true)
        #expect(try String(contentsOf: file, encoding: .utf8) == "new")
        #expect(try fileMode(file) == 0o600)
    }

    @Test("a symbolic link is never written through, even with overwrite", arguments: [false, true])
    func symlink(overwrite: Bool) throws {
        let directory = try Scratch.makeDirectory("out")
        let target = directory.appendingPathComponent("target"), link = directory.appendingPathComponent("link.pfx")
        try Data("target".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let error = try #require(throws: CertStoreError.self) { try OutputFile.write([0], to: link.path, secret: true, overwrite: overwrite) }
        #expect(error.kind == .refused)
        #expect(try String(contentsOf: target, encoding: .utf8) == "target")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == target.path)
    }
}
