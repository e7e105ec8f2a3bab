import Foundation
import Testing
@testable import CertStore

@Suite("StoreLocation")
struct StoreTests {
    @Test("an empty (not yet created) store reads as empty and is not created by reading")
    func emptyStore() throws {
        let t = try TestStore()
        for path in [TestStore.my, TestStore.ca, TestStore.rootStore] {
            let listing = try t.store.entries(in: path)
            #expect(listing.entries.isEmpty)
            #expect(listing.problems.isEmpty)
        }
        #expect(try t.store.entry(Thumbprint(parsing: String(repeating: "A", count: 40)), in: TestStore.my) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: t.root.path).isEmpty)
    }

    @Test("requireEntry: notFound, with a hint naming the store that has it")
    func requireEntry() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem"])
        let thumbprint = try t.fixtures.certificate("leaf.pem").thumbprint
        #expect(try t.store.requireEntry(thumbprint, in: TestStore.my).thumbprint == thumbprint)
        let error = try #require(throws: CertStoreError.self) { try t.store.requireEntry(thumbprint, in: TestStore.ca) }
        #expect(error.kind == .notFound)
        #expect(error.message.contains(thumbprint.value))
        #expect(error.message.contains("LocalMachine/CA"))
        #expect(error.hint?.contains("LocalMachine/My") == true)

        let absent = try Thumbprint(parsing: String(repeating: "0", count: 40))
        let nowhere = try #require(throws: CertStoreError.self) { try t.store.requireEntry(absent, in: TestStore.my) }
        #expect(nowhere.kind == .notFound)
        #expect(nowhere.hint?.contains("certstore list") == true)
    }

    @Test("entries are ordered by thumbprint and carry their properties")
    func listing() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx", "other.pem", "rsa.pem"])
        let entries = try t.store.entries(in: TestStore.my).entries
        #expect(entries.count == 3)
        #expect(entries.map(\.thumbprint) == entries.map(\.thumbprint).sorted())
        #expect(entries.map(\.store) == Array(repeating: TestStore.my, count: 3))
        #expect(entries.filter(\.hasPrivateKey).map(\.properties.subject.commonName) == ["mail.contoso.com"])
    }

    @Test("key status: a key file swapped behind the store's back is Mismatched")
    func mismatched() throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        #expect(try t.entry("leaf.pem")?.keyStatus == .present)
        try Data(try t.fixtures.bytes("other.key")).write(to: try t.keyFile(for: "leaf.pem"))
        let entry = try #require(try t.entry("leaf.pem"))
        #expect(entry.keyStatus == .mismatched)
        #expect(!entry.hasPrivateKey)
        #expect(try t.store.privateKey(for: entry) == nil)
    }

    @Test("key status: an unreadable key file", arguments: [0, 1, 2, 3])
    func unreadable(variant: Int) throws {
        let t = try TestStore()
        try t.importFiles(["modern.pfx"])
        let keyURL = try t.keyFile(for: "leaf.pem")
        switch variant {
        case 0: try Data("garbage\n".utf8).write(to: keyURL)
        case 1: try Data().write(to: keyURL)
        case 2: try Data(try t.fixtures.bytes("leaf-enc.pem")).write(to: keyURL)  // needs a password the store never has
        default:
            // A symbolic link, even to the right key, is never followed inside a store.
            try FileManager.default.removeItem(at: keyURL)
            try FileManager.default.createSymbolicLink(at: keyURL, withDestinationURL: t.fixtures.url("leaf.key"))
        }
        let entry = try #require(try t.entry("leaf.pem"))
        #expect(entry.keyStatus == .unreadable)
        #expect(!entry.hasPrivateKey)
    }

    @Test("key status: a key whose halves disagree is Inconsistent")
    func inconsistent() throws {
        let t = try TestStore()
        try t.importFiles(["other.pem"])
        #expect(try t.entry("other.pem")?.keyStatus == .missing)
        try FileManager.default.createDirectory(at: t.store.keysDirectory, withIntermediateDirectories: true)
        try Data(Fixtures.pem(try t.fixtures.inconsistentKeyDER(), label: "EC PRIVATE KEY")).write(to: try t.keyFile(for: "other.pem"))
        #expect(try t.entry("other.pem")?.keyStatus == .inconsistent)
    }

    @Test("key status is derived per certificate from the key file of its public key")
    func keyStatusDirect() throws {
        let t = try TestStore()
        let leaf = try t.fixtures.certificate("leaf.pem")
        #expect(t.store.keyStatus(for: leaf, identifier: leaf.publicKeyIdentifier) == .missing)
        try t.importFiles(["modern.pfx"])
        #expect(t.store.keyStatus(for: leaf, identifier: leaf.publicKeyIdentifier) == .present)
        let entry = try #require(try t.entry("leaf.pem"))
        let key = try #require(try t.store.privateKey(for: entry))
        #expect(leaf.matches(key))
        // Another certificate pointed at the leaf's key file does not match it.
        #expect(t.store.keyStatus(for: try t.fixtures.certificate("other.pem"), identifier: leaf.publicKeyIdentifier) == .mismatched)
    }

    @Test("a .cer whose name is not its SHA-1, a symlinked .cer and bad JSON are problems, not entries")
    func problems() throws {
        let t = try TestStore()
        try t.importFiles(["leaf.pem", "other.pem"])
        let my = t.store.directory(of: TestStore.my)
        let leaf = try t.fixtures.certificate("leaf.pem"), other = try t.fixtures.certificate("other.pem")
        let wrongName = String(repeating: "B", count: 40)
        try Data(leaf.der).write(to: my.appendingPathComponent("\(wrongName).cer"))
        let linkName = String(repeating: "C", count: 40)
        try FileManager.default.createSymbolicLink(at: my.appendingPathComponent("\(linkName).cer"),
                                                   withDestinationURL: my.appendingPathComponent("\(leaf.thumbprint).cer"))
        try Data("{not json".utf8).write(to: my.appendingPathComponent("\(other.thumbprint).json"))
        try Data("notes".utf8).write(to: my.appendingPathComponent("README.txt"))

        let listing = try t.store.entries(in: TestStore.my)
        #expect(listing.entries.map(\.thumbprint) == [leaf.thumbprint])
        let problems = Dictionary(uniqueKeysWithValues: listing.problems.map { ($0.path, $0.message) })
        #expect(problems.count == 3)
        #expect(problems["LocalMachine/My/\(wrongName).cer"]?.contains("does not match its content") == true)
        #expect(problems["LocalMachine/My/\(linkName).cer"] != nil)
        #expect(problems["LocalMachine/My/\(other.thumbprint).cer"]?.contains("not valid JSON") == true)
    }

    @Test("a missing properties file reads as defaults")
    func missingProperties() throws {
        let t = try TestStore()
        try t.importFiles(["other.pem"])
        let other = try t.fixtures.certificate("other.pem")
        try FileManager.default.removeItem(at: t.store.directory(of: TestStore.my).appendingPathComponent("\(other.thumbprint).json"))
        #expect(try t.entry("other.pem")?.storeProperties == StoreProperties())
    }

    @Test("certificates(withPublicKey:) searches every store of the location")
    func byPublicKey() throws {
        let t = try TestStore()
        try t.importFiles(["ca.pem"], options: TestStore.options { $0.target = TestStore.rootStore })
        try t.importFiles(["other.pem"])
        let ca = try t.fixtures.certificate("ca.pem")
        let found = try t.store.certificates(withPublicKey: ca.publicKeyIdentifier)
        #expect(found.map(\.thumbprint) == [ca.thumbprint])
        #expect(found.map(\.store) == [TestStore.rootStore])
        #expect(try t.store.certificates(withPublicKey: String(repeating: "0", count: 64)).isEmpty)
    }

    @Test("the writer lock is exclusive: a second writer gets \"busy\" after its timeout")
    func lock() throws {
        let t = try TestStore()
        let impatient = StoreLocation(root: t.root, lockTimeout: 0.05)
        try t.store.withWriteLock {
            let error = try #require(throws: CertStoreError.self) { try impatient.withWriteLock {} }
            #expect(error.kind == .busy)
            #expect(error.message.hasPrefix("store is busy"))
        }
        // Released when the holder is done.
        #expect(try impatient.withWriteLock { 42 } == 42)
    }

    @Test("a file where the Keys directory should be is a permission error, and nothing is half-written")
    func keysDirectoryBlocked() throws {
        let t = try TestStore()
        try FileManager.default.createDirectory(at: t.store.directory, withIntermediateDirectories: true)
        try Data("in the way".utf8).write(to: t.store.keysDirectory)
        let error = try #require(throws: CertStoreError.self) { try t.importFiles(["modern.pfx"]) }
        #expect(error.kind == .permission)
        #expect(try t.entry("leaf.pem") == nil)
    }

    @Test("defaultRoot: --root, then CERTSTORE_ROOT, then ./Stores, then /var/lib/certstore")
    func defaultRoot() throws {
        let cwd = try Scratch.makeDirectory("cwd")
        #expect(StoreLocation.defaultRoot(explicit: "/opt/x", environment: ["CERTSTORE_ROOT": "/env"], currentDirectory: cwd.path).path == "/opt/x")
        #expect(StoreLocation.defaultRoot(explicit: "", environment: ["CERTSTORE_ROOT": "/env"], currentDirectory: cwd.path).path == "/env")
        #expect(StoreLocation.defaultRoot(explicit: nil, environment: ["CERTSTORE_ROOT": ""], currentDirectory: cwd.path).path == "/var/lib/certstore")
        try Data().write(to: cwd.appendingPathComponent("Stores"))  // a file is not a store directory
        #expect(StoreLocation.defaultRoot(explicit: nil, environment: [:], currentDirectory: cwd.path).path == "/var/lib/certstore")
        try FileManager.default.removeItem(at: cwd.appendingPathComponent("Stores"))
        try FileManager.default.createDirectory(at: cwd.appendingPathComponent("Stores"), withIntermediateDirectories: false)
        #expect(StoreLocation.defaultRoot(explicit: nil, environment: [:], currentDirectory: cwd.path).path == cwd.appendingPathComponent("Stores").path)
    }
}

@Suite("StoreProperties")
struct StorePropertiesTests {
    @Test("friendly name validation: under 64 characters, no control characters")
    func validate() throws {
        let longest = String(repeating: "é", count: 63)
        #expect(try StoreProperties.validateFriendlyName(longest) == longest)
        #expect(try StoreProperties.validateFriendlyName("") == "")
        for bad in [String(repeating: "x", count: 64), "a\nb", "a\u{7F}b", "\u{0}"] {
            let error = try #require(throws: CertStoreError.self) { try StoreProperties.validateFriendlyName(bad) }
            #expect(error.kind == .usage)
        }
    }

    @Test("friendly names from files: control characters dropped, cut to 63")
    func sanitize() {
        #expect(StoreProperties.sanitizeFriendlyName("a\tb\nc\u{7}") == "abc")
        #expect(StoreProperties.sanitizeFriendlyName(String(repeating: "z", count: 100)) == String(repeating: "z", count: 63))
        #expect(StoreProperties.sanitizeFriendlyName("Zürich Mail") == "Zürich Mail")
    }

    @Test("JSON: sorted keys, ISO 8601 dates, trailing newline, defaults for missing keys")
    func json() throws {
        let properties = StoreProperties(friendlyName: "Mail/2025", archived: true, exportable: true,
                                         importedAt: Date(timeIntervalSince1970: 1_750_000_000), source: "a.pfx")
        let encoded = try properties.encoded()
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains(#""importedAt" : "2025-06-15T15:06:40"#))
        #expect(text.contains(#""friendlyName" : "Mail/2025""#))
        let keys = ["archived", "exportable", "friendlyName", "importedAt", "source"]
        let positions = keys.map { text.range(of: "\"\($0)\"")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(try StoreProperties.decoder.decode(StoreProperties.self, from: Data(encoded)) == properties)
        #expect(try StoreProperties.decoder.decode(StoreProperties.self, from: Data("{}".utf8)) == StoreProperties())
        let partial = try StoreProperties.decoder.decode(StoreProperties.self, from: Data(#"{"exportable": true}"#.utf8))
        #expect(partial.exportable)
        #expect(partial.friendlyName == "")
        // A hand-written date without fractional seconds reads too.
        let handWritten = try StoreProperties.decoder.decode(StoreProperties.self, from: Data(#"{"importedAt": "2025-06-15T15:06:40Z"}"#.utf8))
        #expect(handWritten.importedAt == Date(timeIntervalSince1970: 1_750_000_000))
    }
}

/// umask is process-wide, so these cases run one at a time; no other test changes it.
@Suite("Store file modes", .serialized)
struct StoreModeTests {
    @Test("modes do not depend on the umask", arguments: [0o000, 0o022, 0o077, 0o027] as [mode_t])
    func modes(mask: mode_t) throws {
        let t = try TestStore()
        _ = try Fixtures.get()
        let previous = umask(mask)
        defer { umask(previous) }
        try t.importFiles(["chain.pfx"])

        let leaf = try t.fixtures.certificate("leaf.pem"), ca = try t.fixtures.certificate("ca.pem")
        #expect(try fileMode(t.store.keysDirectory) == 0o700)
        #expect(try fileMode(t.keyFile(for: "leaf.pem")) == 0o600)
        #expect(try fileMode(t.store.directory) == 0o755)
        #expect(try fileMode(t.store.directory(of: TestStore.my)) == 0o755)
        #expect(try fileMode(t.store.directory(of: TestStore.ca)) == 0o755)
        let my = t.store.directory(of: TestStore.my), caDirectory = t.store.directory(of: TestStore.ca)
        #expect(try fileMode(my.appendingPathComponent("\(leaf.thumbprint).cer")) == 0o644)
        #expect(try fileMode(my.appendingPathComponent("\(leaf.thumbprint).json")) == 0o644)
        #expect(try fileMode(caDirectory.appendingPathComponent("\(ca.thumbprint).cer")) == 0o644)
        // No temporary files are left behind.
        let everything = try t.snapshot().keys
        #expect(!everything.contains { $0.contains(".tmp-") })
    }

    @Test("a key re-linked later is written 0600 into a new 0700 Keys directory", arguments: [0o000, 0o077] as [mode_t])
    func relinkedKeyMode(mask: mode_t) throws {
        let t = try TestStore()
        _ = try Fixtures.get()
        let previous = umask(mask)
        defer { umask(previous) }
        try t.importFiles(["leaf.pem"])
        #expect(!FileManager.default.fileExists(atPath: t.store.keysDirectory.path))
        try t.importFiles(["leaf.key"])
        #expect(try fileMode(t.store.keysDirectory) == 0o700)
        #expect(try fileMode(t.keyFile(for: "leaf.pem")) == 0o600)
    }
}
