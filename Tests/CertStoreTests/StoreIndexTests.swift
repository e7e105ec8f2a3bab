import Foundation
import Testing
@testable import CertStore

/// The store index may serve a listing only while every file an entry came from is unchanged: whatever is
/// changed, deleted or swapped behind certstore's back is seen on the next call.
@Suite("store index")
struct StoreIndexTests {
    /// A store with leaf.pem + leaf.key and other.pem (keyless), listed once so the index exists.
    private func indexedStore() throws -> TestStore {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "leaf.key", "other.pem"])
        _ = try t.store.entries(in: TestStore.my)
        #expect(FileManager.default.fileExists(atPath: StoreIndex.url(t.store, TestStore.my).path))
        return t
    }

    private func status(_ t: TestStore, _ file: String) throws -> PrivateKeyStatus? {
        let thumbprint = try t.fixtures.certificate(file).thumbprint
        return try t.store.entries(in: TestStore.my).entries.first { $0.thumbprint == thumbprint }?.keyStatus
    }

    @Test("a second listing is served from the index and equals the first")
    func servedFromIndex() throws {
        let t = try indexedStore()
        let first = try t.store.entries(in: TestStore.my).entries
        let records = StoreIndex.load(StoreIndex.url(t.store, TestStore.my))
        #expect(records.count == 2)
        let second = try t.store.entries(in: TestStore.my).entries
        #expect(first.map(\.properties) == second.map(\.properties))
        #expect(first.map(\.keyStatus) == second.map(\.keyStatus))
        #expect(first.map(\.storeProperties) == second.map(\.storeProperties))
    }

    @Test("a key file deleted behind the store's back: HasPrivateKey false on the next call")
    func keyDeleted() throws {
        let t = try indexedStore()
        #expect(try status(t, "leaf.pem") == .present)
        try FileManager.default.removeItem(at: try t.keyFile(for: "leaf.pem"))
        #expect(try status(t, "leaf.pem") == .missing)
    }

    @Test("a key file swapped for another key of the same size: Mismatched on the next call")
    func keySwapped() throws {
        let t = try indexedStore()
        let keyFile = try t.keyFile(for: "leaf.pem")
        // other.key is another P-256 key: the same length as PEM, so only the contents (and ctime) differ.
        let replacement = try PrivateKey(bytes: t.fixtures.bytes("other.key"), password: nil).pkcs8PEM()
        #expect(replacement.count == (try Data(contentsOf: keyFile)).count)
        let mtime = try FileManager.default.attributesOfItem(atPath: keyFile.path)[.modificationDate] as! Date
        try Data(replacement).write(to: keyFile)
        // Put the old modification time back, as a careful intruder would: the change time still differs.
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: keyFile.path)
        #expect(try status(t, "leaf.pem") == .mismatched)
    }

    @Test("a key that appears later is seen: a keyless certificate gets HasPrivateKey true")
    func keyAppears() throws {
        let t = try indexedStore()
        #expect(try status(t, "other.pem") == .missing)
        let pem = try PrivateKey(bytes: t.fixtures.bytes("other.key"), password: nil).pkcs8PEM()
        let url = try t.keyFile(for: "other.pem")
        try Data(pem).write(to: url)
        chmod(url.path, 0o600)
        #expect(try status(t, "other.pem") == .present)
    }

    @Test("a certificate deleted behind the store's back disappears from the listing")
    func certificateDeleted() throws {
        let t = try indexedStore()
        let thumbprint = try t.fixtures.certificate("other.pem").thumbprint
        try FileManager.default.removeItem(at: t.store.certificateURL(thumbprint, in: TestStore.my))
        #expect(try t.store.entries(in: TestStore.my).entries.map(\.thumbprint) == [try t.fixtures.certificate("leaf.pem").thumbprint])
    }

    @Test("a certificate file replaced by another certificate's bytes is reported, never listed under the old name")
    func certificateSwapped() throws {
        let t = try indexedStore()
        let other = try t.fixtures.certificate("other.pem").thumbprint
        try Data(try t.fixtures.certificate("names.pem").der).write(to: t.store.certificateURL(other, in: TestStore.my))
        let (entries, problems) = try t.store.entries(in: TestStore.my)
        #expect(!entries.contains { $0.thumbprint == other })
        #expect(problems.contains { $0.message.contains("does not match its content") })
    }

    @Test("changed store properties (friendly name edited by hand) are seen on the next call")
    func propertiesChanged() throws {
        let t = try indexedStore()
        let thumbprint = try t.fixtures.certificate("other.pem").thumbprint
        var properties = try t.store.readStoreProperties(thumbprint, in: TestStore.my)
        properties.friendlyName = "edited"
        try Data(try properties.encoded()).write(to: t.store.propertiesURL(thumbprint, in: TestStore.my))
        #expect(try t.store.entries(in: TestStore.my).entries.first { $0.thumbprint == thumbprint }?.storeProperties.friendlyName == "edited")
    }

    @Test("a damaged, truncated or foreign index is ignored and rebuilt", arguments: ["truncate", "flip", "garbage"])
    func damagedIndex(damage: String) throws {
        let t = try indexedStore()
        let url = StoreIndex.url(t.store, TestStore.my)
        var bytes = [UInt8](try Data(contentsOf: url))
        switch damage {
        case "truncate": bytes = Array(bytes.prefix(bytes.count / 2))
        case "flip": bytes[bytes.count / 2] ^= 0x40
        default: bytes = pseudoRandomBytes(count: 4096, seed: 7)
        }
        try Data(bytes).write(to: url)
        #expect(StoreIndex.load(url).isEmpty)
        let entries = try t.store.entries(in: TestStore.my).entries
        #expect(entries.count == 2)
        #expect(StoreIndex.load(url).count == 2)
    }

    @Test("the codec round-trips every property, including odd names and empty optionals")
    func codecRoundTrip() throws {
        let fixtures = try Fixtures.get()
        var records: [StoreIndex.Record] = []
        for file in ["leaf.pem", "names.pem", "bmp.pem", "t61.pem", "rsa.pem", "ed25519.pem", "ca.pem"] {
            let properties = try fixtures.certificate(file).properties()
            let stamp = FileStamp(device: 1, inode: 2, size: 3, modified: UInt64.max, changed: 0)
            records.append(StoreIndex.Record(cer: stamp, json: nil, key: file == "leaf.pem" ? stamp : nil, keyStatus: .present,
                                             properties: properties,
                                             storeProperties: StoreProperties(friendlyName: "Zürich \"x\"", archived: true, exportable: true,
                                                                              importedAt: Date(timeIntervalSince1970: 1_800_000_000.123), source: nil)))
        }
        let url = try Scratch.makeDirectory("index").appendingPathComponent("My.index")
        try Data(StoreIndex.encode(records)).write(to: url)
        let loaded = StoreIndex.load(url)
        for record in records {
            let back = try #require(loaded[record.properties.thumbprint])
            #expect(back.properties == record.properties)
            #expect(back.storeProperties == record.storeProperties)
            #expect(back.cer == record.cer && back.json == record.json && back.key == record.key)
        }
    }

    @Test("a reader does not wait for a writer: with the lock held, listing works and simply leaves the index alone")
    func readerDoesNotWait() throws {
        let t = try indexedStore()
        let url = StoreIndex.url(t.store, TestStore.my)
        try FileManager.default.removeItem(at: url)
        let lock = try StoreLock(directory: t.store.directory, timeout: 1)
        let start = Date()
        #expect(try t.store.entries(in: TestStore.my).entries.count == 2)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(!FileManager.default.fileExists(atPath: url.path))
        withExtendedLifetime(lock) {}
    }
}
