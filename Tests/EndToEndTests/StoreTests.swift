import Foundation
import Testing

@Suite("store on disk")
struct StoreTests {
    @Test("Keys directory 0700 and key files 0600 even under umask 000; nothing world-writable")
    func permissionsUnderPermissiveUmask() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("umask")
        try certstore(expecting: 0, ["import", f.modernPFX.path, "--password-file", f.passwordFile.path] + t.rootArgs, umask000: true)
        try certstore(expecting: 0, ["import", f.emptyPasswordPFX.path] + t.rootArgs, umask000: true)
        let keys = t.root.appendingPathComponent("LocalMachine/Keys")
        #expect(octal(fileMode(keys)) == "0700")
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: keys.path)
        #expect(keyFiles.count == 2, "\(keyFiles)")
        for name in keyFiles {
            #expect(octal(fileMode(keys.appendingPathComponent(name))) == "0600", "\(name)")
        }
        for (path, entry) in try DirectorySnapshot.take(t.root).entries {
            let mode = try #require(mode_t(entry.split(separator: " ")[1], radix: 8))
            #expect(mode & 0o002 == 0, "\(path) is world-writable (\(octal(mode)))")
        }
    }

    @Test("8 concurrent imports into one store all succeed: 8 leaves + 1 CA, no leftover temp files")
    func concurrentImports() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("concurrent")
        let children = try f.hosts.map { host in
            try CertStoreCLI.start(["import", host.pfx.path, "--password-file", f.passwordFile.path,
                                    "--lock-timeout", "30"] + t.rootArgs)
        }
        let results = children.map { $0.wait(timeout: 90) }
        for result in results {
            #expect(!result.timedOut && result.status == 0, "\(result)")
        }
        #expect(t.thumbprints(in: "My") == Set(f.hosts.map(\.thumbprint)))
        #expect(t.thumbprints(in: "CA") == [f.ca.thumbprint])
        #expect(t.files(in: "My", suffix: ".cer").count == 8)
        let keys = try FileManager.default.contentsOfDirectory(atPath: t.root.appendingPathComponent("LocalMachine/Keys").path)
        #expect(keys.count == 8, "\(keys)")
        let leftovers = try DirectorySnapshot.take(t.root).entries.keys.filter { path in
            path.split(separator: "/").contains { $0.hasPrefix(".") } && path != "LocalMachine/.lock"
        }
        #expect(leftovers.isEmpty, "temp files left behind: \(leftovers.sorted())")
        let listed = try certstore(expecting: 0, ["list", "--has-private-key", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(listed.stdout) == Set(f.hosts.map(\.thumbprint)))
    }
}
