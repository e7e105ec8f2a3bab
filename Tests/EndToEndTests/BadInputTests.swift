import Foundation
import Testing
import CertStore

/// Bad input never changes the store: every path, mode and byte under the root is the same afterwards.
@Suite("bad input")
struct BadInputTests {
    /// A store that already holds a leaf with key, a CA and a keyless certificate, plus its snapshot.
    static func populatedStore(_ label: String, _ f: Fixtures) throws -> (TestDirectory, DirectorySnapshot) {
        let t = try TestDirectory(label)
        try seedModernPFX(into: t, f)
        try certstore(expecting: 0, ["import", f.expired.certificate.path, "--allow-keyless"] + t.rootArgs)
        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint, f.expired.thumbprint])
        return (t, try DirectorySnapshot.take(t.root))
    }

    static func expectUnchanged(_ t: TestDirectory, _ before: DirectorySnapshot, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let after = try DirectorySnapshot.take(t.root)
        #expect(after == before, "the store changed:\n\(before.differences(to: after))", sourceLocation: sourceLocation)
    }

    @Test("wrong password: exit 65, 'wrong password' on stderr, store byte-for-byte unchanged")
    func wrongPassword() throws {
        let f = try Fixtures.get()
        let (t, before) = try Self.populatedStore("wrongpw", f)
        for file in [f.hosts[0].pfx, f.legacyPFX] {
            let result = try certstore(expecting: 65, ["import", file.path, "--password-file", f.wrongPasswordFile.path] + t.rootArgs)
            #expect(result.stderr.lowercased().contains("wrong password"), "\(result)")
            #expect(result.stderr.contains("error:") && result.stderr.contains("hint:"), "\(result)")
            try Self.expectUnchanged(t, before)
        }
    }

    enum Damage: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case truncatedPFX, randomBytes, emptyFile, csrOnly, keyMatchingNothing
        var testDescription: String { rawValue }
    }

    @Test("damaged or unusable input: exit 65, store unchanged", arguments: Damage.allCases)
    func damagedInput(_ damage: Damage) throws {
        let f = try Fixtures.get()
        let (t, before) = try Self.populatedStore("damaged", f)
        let file: URL
        switch damage {
        case .truncatedPFX:
            let whole = try Data(contentsOf: f.hosts[1].pfx)
            file = try t.write("truncated.pfx", whole.prefix(whole.count / 2))
        case .randomBytes:
            var generator = SystemRandomNumberGenerator()
            file = try t.write("random.pfx", Data((0..<2048).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        case .emptyFile:
            file = try t.write("empty.pfx", Data())
        case .csrOnly:
            file = f.leafCSR
        case .keyMatchingNothing:
            file = f.strayKey
        }
        let result = try certstore(expecting: 65, ["import", file.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(result.stderr.contains("error:"), "\(result)")
        try Self.expectUnchanged(t, before)
    }

    @Test("missing input file: exit 66 (input unreadable), store unchanged")
    func missingInputFile() throws {
        let f = try Fixtures.get()
        let (t, before) = try Self.populatedStore("missing", f)
        let result = try certstore(expecting: 66, ["import", t.path("does-not-exist.pfx").path] + t.rootArgs)
        #expect(result.stderr.contains("error:"), "\(result)")
        try Self.expectUnchanged(t, before)
    }

    @Test("missing input file is an error and leaves the store unchanged (exit code aside)")
    func missingInputFileRefused() throws {
        let f = try Fixtures.get()
        let (t, before) = try Self.populatedStore("missing2", f)
        let result = try certstore(["import", t.path("does-not-exist.pfx").path] + t.rootArgs)
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("does-not-exist.pfx"), "\(result)")
        try Self.expectUnchanged(t, before)
    }

    @Test("a batch with one good and one bad file imports nothing")
    func batchImportsNothing() throws {
        let f = try Fixtures.get()
        let (t, before) = try Self.populatedStore("batch", f)
        let bad = try t.write("bad.pfx", Data(repeating: 0x30, count: 100))
        let result = try certstore(expecting: 65, ["import", f.hosts[2].pfx.path, bad.path, "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(result.stderr.contains("bad.pfx"), "\(result)")
        #expect(!t.thumbprints(in: "My").contains(f.hosts[2].thumbprint))
        try Self.expectUnchanged(t, before)
    }

    @Test("--skip-invalid imports the good file of a batch, reports the bad one, exits 65")
    func batchSkipInvalid() throws {
        let f = try Fixtures.get()
        let (t, _) = try Self.populatedStore("skip", f)
        let bad = try t.write("bad.pfx", Data(repeating: 0x30, count: 100))
        let result = try certstore(expecting: 65, ["import", f.hosts[2].pfx.path, bad.path, "--skip-invalid",
                                                   "--password-file", f.passwordFile.path] + t.rootArgs)
        #expect(result.stderr.contains("bad.pfx"), "\(result)")
        #expect(t.thumbprints(in: "My") == [f.leaf.thumbprint, f.expired.thumbprint, f.hosts[2].thumbprint])
        let shown = parseListOutput(try certstore(expecting: 0, ["show", f.hosts[2].thumbprint] + t.rootArgs).stdout)
        #expect(shown.first?["HasPrivateKey"] == "True")
    }

    @Test("a failed import into a root that does not exist yet creates nothing")
    func failedImportCreatesNothing() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("fresh")
        try certstore(expecting: 65, ["import", f.modernPFX.path, "--password-file", f.wrongPasswordFile.path] + t.rootArgs)
        #expect(!FileManager.default.fileExists(atPath: t.root.path),
                "created: \((try? DirectorySnapshot.take(t.root).entries.keys.sorted()) ?? [])")
    }
}

/// An input file the user running certstore cannot read: exit 66 (input unreadable, as the manual says), with
/// a hint about that file, not about the store's owner. Run as `nobody` through setpriv (needs root).
@Suite("unreadable input")
struct UnreadableInputTests {
    @Test("import of a file nobody may read, run as nobody: exit 66, the hint is about the file",
          .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unreadableInput() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("unreadable-input")
        try FileManager.default.createDirectory(at: t.root, withIntermediateDirectories: true)
        let input = t.root.appendingPathComponent("in.pem")
        try FileManager.default.copyItem(at: f.expired.certificate, to: input)
        chmod(input.path, 0o600)
        let storeRoot = t.root.appendingPathComponent("nobody-store")
        try FileManager.default.createDirectory(at: storeRoot, withIntermediateDirectories: true)
        chown(storeRoot.path, 65534, 65534)
        chmod(t.root.path, 0o755)
        let binary = try CertStoreCLI.requireBinary()
        let result = try ChildProcess(executable: "/usr/bin/setpriv",
                                      arguments: ["--reuid=65534", "--regid=65534", "--clear-groups", binary.path,
                                                  "import", input.path, "--root", storeRoot.path]).wait(timeout: 60)
        let stderr = String(decoding: result.standardError, as: UTF8.self)
        #expect(result.termination == .exited(66), "\(stderr)")
        #expect(stderr.contains("in.pem"), "\(stderr)")
        #expect(!stderr.contains("store's owner"), "\(stderr)")
    }
}
