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

    /// An index whose checksum is right but one of whose strings claims a length of 2⁶³ or more (a crafted
    /// file): the listing ignores the index and rebuilds it, it never traps.
    @Test("an index with a crafted string length of 2^63 or more is ignored and rebuilt", arguments: ["thumbprint", "identifier"])
    func craftedStringLength(field: String) throws {
        let t = try indexedStore()
        let url = StoreIndex.url(t.store, TestStore.my)
        let leaf = try t.fixtures.certificate("leaf.pem").thumbprint
        var record = ByteWriter()
        if field == "thumbprint" {
            record.varint(1 << 63)
        } else {
            record.string(leaf.value)
            record.stamp(FileStamp(device: 1, inode: 2, size: 3, modified: 4, changed: 5))
            record.bool(false); record.bool(false)
            record.varint(UInt64.max)
        }
        record.raw([UInt8](repeating: 0x41, count: 16))
        var body = ByteWriter()
        body.raw(StoreIndex.magic)
        body.string(String(decoding: StoreIndex.schema, as: UTF8.self))
        body.varint(1)
        body.varint(UInt64(record.bytes.count))
        body.raw(record.bytes)
        try Data(body.bytes + Digest.sha256(body.bytes)).write(to: url)
        #expect(StoreIndex.load(url).isEmpty)
        #expect(try t.store.entries(in: TestStore.my).entries.count == 2)
        #expect(StoreIndex.load(url).count == 2)
        var reader = ByteReader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x41])
        #expect(throws: ByteReader.Truncated.self) { try reader.string() }
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

/// What a warm JSON listing writes from the index: each record's values kept as JSON text, its bound
/// services and default-SMTP flag filled in at listing time, its certificate properties decoded only when
/// asked for (and read from the certificate should they not decode).
@Suite("store index: kept JSON values and lazily decoded properties")
struct StoreIndexJSONTests {
    private func indexedStore() throws -> TestStore {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "leaf.key", "other.pem", "names.pem"])
        _ = try t.store.entries(in: TestStore.my)
        return t
    }

    /// The JSON object `list --format json` would write for `entry` computed from its values, the way every
    /// other listing does.
    private func rendered(_ entry: StoreEntry, _ context: PropertyContext) -> [UInt8] {
        var out: [UInt8] = []
        JSONRecordText.certificates.appendRecord(CertificateProperty.all.map { $0.value(of: entry, context: context) }, to: &out)
        return out
    }

    private func kept(_ entry: StoreEntry, _ context: PropertyContext, columns: [CertificateProperty] = CertificateProperty.all) throws -> [UInt8] {
        var out: [UInt8] = []
        let writer = JSONRecordText(keys: columns.map(\.jsonKey), dateText: ISO8601Text.string)
        let selection = JSONRecordText.TemplateSelection(columns: columns.map { CertificateProperty.all.firstIndex(of: $0)! })
        #expect(entry.appendKeptJSON(to: &out, writer: writer, columns: columns, selection: selection, context: context))
        return out
    }

    private func lazyEntries(_ t: TestStore) throws -> [StoreEntry] {
        var entries: [StoreEntry] = []
        try t.store.forEachBatch(in: TestStore.my, lazily: true) { entries += $0 }
        return entries
    }

    @Test("kept values equal a fresh rendering, cold and warm, and bindings made after the index was written show")
    func keptEqualsRendered() throws {
        let t = try indexedStore()
        let leaf = try t.fixtures.certificate("leaf.pem").thumbprint
        var bindings = ServiceBindings()
        bindings.bind(leaf, to: .smtp)
        bindings.bind(leaf, to: .imap)
        bindings.defaultSmtpCertificate = leaf
        for context in [PropertyContext(), PropertyContext(bindings: bindings)] {
            for entries in [try t.store.entries(in: TestStore.my).entries, try lazyEntries(t)] {
                #expect(entries.count == 3)
                for entry in entries {
                    #expect(try kept(entry, context) == rendered(entry, context))
                }
            }
        }
        let leafJSON = String(decoding: try kept(try #require(try lazyEntries(t).first { $0.thumbprint == leaf }), PropertyContext(bindings: bindings)), as: UTF8.self)
        #expect(leafJSON.contains("\"isDefaultSmtpCertificate\" : true"))
        #expect(leafJSON.contains("\"services\" : [\n      \"IMAP\",\n      \"SMTP\"\n    ]"))
    }

    @Test("any selection of properties, in any order, is taken from the kept values as a fresh rendering writes it",
          arguments: [["Thumbprint", "Subject", "Issuer", "NotAfter", "HasPrivateKey"], ["Services", "Thumbprint"],
                      ["IsDefaultSmtpCertificate"], ["Source", "NotBefore", "DnsNameList", "Store", "Archived", "KeyUsage"]])
    func selections(names: [String]) throws {
        let t = try indexedStore()
        let columns = try CertificateProperty.select(names)
        var bindings = ServiceBindings()
        bindings.bind(try t.fixtures.certificate("leaf.pem").thumbprint, to: .smtp)
        let context = PropertyContext(bindings: bindings)
        let writer = JSONRecordText(keys: columns.map(\.jsonKey), dateText: ISO8601Text.string)
        for entry in try lazyEntries(t) {
            var fresh: [UInt8] = []
            writer.appendRecord(columns.map { $0.value(of: entry, context: context) }, to: &fresh)
            #expect(try kept(entry, context, columns: columns) == fresh)
        }
    }

    @Test("a lazily decoded entry has the properties of a full parse; filters read them")
    func lazyPropertiesEqualFullParse() throws {
        let t = try indexedStore()
        for entry in try lazyEntries(t) {
            let certificate = try Certificate(der: try FileSystem.read(t.store.certificateURL(entry.thumbprint, in: TestStore.my), limit: 1 << 20))
            #expect(entry.properties == certificate.properties())
        }
        var filter = CertificateFilter()
        filter.subject = try WildcardPattern("*mail.contoso.com*")
        #expect(try lazyEntries(t).filter(filter.matches).map(\.thumbprint) == [try t.fixtures.certificate("leaf.pem").thumbprint])
    }

    @Test("a record whose properties do not decode (checksum intact) is read from its certificate, lazily or not")
    func undecodableProperties() throws {
        let t = try indexedStore()
        let url = StoreIndex.url(t.store, TestStore.my)
        var bytes = [UInt8](try Data(contentsOf: url))
        // The last record ends with its properties, which end with the public key identifier (hex): change its
        // last character and write a checksum that fits, so only the record's own check can notice.
        let last = bytes.count - 33
        bytes[last] = bytes[last] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let body = Array(bytes[..<(bytes.count - 32)])
        try Data(body + Digest.sha256(body)).write(to: url)
        #expect(StoreIndex.load(url).count != 3)   // the eager decoder refuses the record
        for entry in try lazyEntries(t) {
            let certificate = try Certificate(der: try FileSystem.read(t.store.certificateURL(entry.thumbprint, in: TestStore.my), limit: 1 << 20))
            #expect(entry.properties == certificate.properties())
        }
        for entry in try t.store.entries(in: TestStore.my).entries {
            let certificate = try Certificate(der: try FileSystem.read(t.store.certificateURL(entry.thumbprint, in: TestStore.my), limit: 1 << 20))
            #expect(entry.properties == certificate.properties())
        }
    }

    @Test("an index written for another set of properties is not used")
    func otherSchema() throws {
        let t = try indexedStore()
        let url = StoreIndex.url(t.store, TestStore.my)
        var bytes = [UInt8](try Data(contentsOf: url))
        #expect(StoreIndex.load(url).count == 3)
        // The schema follows the magic and its length: change one character of it, keep the checksum valid.
        let start = StoreIndex.magic.count + (StoreIndex.schema.count < 128 ? 1 : 2)
        #expect(Array(bytes[start..<(start + 6)]) == Array(StoreIndex.schema.prefix(6)))
        bytes[start + 5] ^= 0x01
        let body = Array(bytes[..<(bytes.count - 32)])
        try Data(body + Digest.sha256(body)).write(to: url)
        #expect(StoreIndex.load(url).isEmpty)
        #expect(try t.store.entries(in: TestStore.my).entries.count == 3)
        #expect(StoreIndex.load(url).count == 3)
    }

    @Test("damaged kept values are refused and nothing is appended", arguments: [0, 1, 2])
    func damagedTemplate(variant: Int) throws {
        let storage: [UInt8] = switch variant {
        case 0: []
        case 1: [0x05, 0x41]                                  // a value longer than what is left
        default: pseudoRandomBytes(count: 300, seed: 11)
        }
        var out: [UInt8] = [1, 2, 3]
        let selection = JSONRecordText.TemplateSelection(columns: Array(CertificateProperty.all.indices))
        let ok = JSONRecordText.certificates.appendRecord(JSONRecordTemplate(storage: storage, range: 0..<storage.count),
                                                          selection: selection, value: { _ in .null }, to: &out)
        #expect(!ok)
        #expect(out == [1, 2, 3])
    }
}
