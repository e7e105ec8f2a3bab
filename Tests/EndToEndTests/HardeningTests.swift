import Foundation
import Testing

/// Issue 13: a store tree that someone else can write must never make root read, write or delete outside it.
/// Each test is one attack shape of the attack run (docs/RELIABILITY.md, "Attacks on a writable store"):
/// tampered trash manifests, planted links, foreign-owned directories, a forged index, world-readable service
/// keys, the hook environment, control characters and shell metacharacters in names, stale staging.
/// "Another user" is uid 65534 (nobody): the tests run as root and only need the ownership, not the account.
@Suite("hardening")
struct HardeningTests {
    static let nobody: uid_t = 65534

    /// The reliability template (A, E, F with keys, D in the trash with its key, B keyless, the CA in CA).
    static func template(_ label: String) throws -> (TestDirectory, ReliabilityTests.Template, Fixtures) {
        let fx = try Fixtures.get()
        let t = try TestDirectory(label)
        return (t, try ReliabilityTests.makeTemplate(in: t, fx), fx)
    }

    static func trashEntry(_ template: ReliabilityTests.Template) -> URL {
        template.root.appendingPathComponent("LocalMachine/Trash/\(template.trashID)")
    }

    /// Rewrites fields of a trash entry's manifest.json.
    static func tamperManifest(_ entry: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = entry.appendingPathComponent("manifest.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
    }

    // MARK: A — restore trusts the trash manifest

    @Test("A: a trash manifest whose keyFile is ../../../pwned: restore is refused, nothing is read or written outside the store")
    func restoreRefusesPathInKeyFile() throws {
        let (t, template, _) = try Self.template("h-a-keyfile")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let payload = template.root.appendingPathComponent("pwned")
        try Data("attacker's payload\n".utf8).write(to: payload)
        try Self.tamperManifest(Self.trashEntry(template)) { $0["keyFile"] = "../../../pwned" }
        let before = try DirectorySnapshot.take(template.root)
        let result = try certstore(["restore", template.d] + args)
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("keyFile"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: t.path("pwned").path), "restore wrote outside the store:\n\(result)")
        try ReliabilityTests.expectUnchanged(template.root, before)
    }

    @Test("A: a trash manifest whose thumbprint or id is a path: the entry is refused (trash list, restore), nothing written outside the store")
    func restoreRefusesPathInThumbprint() throws {
        for (field, value) in [("thumbprint", "../../../escaped"), ("id", "../../../escaped"), ("store", "CurrentUser/My")] {
            let (t, template, _) = try Self.template("h-a-thumb")
            defer { withExtendedLifetime(t) {} }
            let args = ["--root", template.root.path]
            try Self.tamperManifest(Self.trashEntry(template)) { $0[field] = value }
            let before = try DirectorySnapshot.take(template.root)
            let list = try certstore(["trash", "list"] + args)
            #expect(list.status == 65 && list.stderr.contains(field), "\(field): \(list)")
            let result = try certstore(["restore", template.trashID] + args)
            #expect(result.status == 65, "\(field): \(result)")
            #expect(!FileManager.default.fileExists(atPath: t.path("escaped.cer").path))
            #expect(!FileManager.default.fileExists(atPath: t.path("escaped").path))
            try ReliabilityTests.expectUnchanged(template.root, before)
        }
    }

    @Test("A: a trash entry that is a symbolic link (to another entry) is refused, not listed twice; one owned by another user is refused")
    func linkedOrForeignTrashEntry() throws {
        let (t, template, _) = try Self.template("h-a-link")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let trash = template.root.appendingPathComponent("LocalMachine/Trash")
        let link = trash.appendingPathComponent("20990101T000000Z-LINKED00")
        #expect(symlink(Self.trashEntry(template).path, link.path) == 0)
        let before = try DirectorySnapshot.take(template.root)
        let list = try certstore(expecting: 77, ["trash", "list", "--format", "json"] + args)
        #expect(list.stderr.contains("symbolic link"), "\(list)")
        try certstore(expecting: 77, ["restore", "20990101T000000Z-LINKED00"] + args)
        try ReliabilityTests.expectUnchanged(template.root, before)
        unlink(link.path)

        #expect(chown(Self.trashEntry(template).path, Self.nobody, Self.nobody) == 0)
        let restore = try certstore(expecting: 77, ["restore", template.d] + args)
        #expect(restore.stderr.contains("uid 65534"), "\(restore)")
        #expect(!FileManager.default.fileExists(atPath: template.root.appendingPathComponent("LocalMachine/My/\(template.d).cer").path))
    }

    @Test("A: a trash entry whose .cer is another certificate, or whose key is another key, is refused and the store left unchanged")
    func restoreChecksContent() throws {
        let (t, template, fx) = try Self.template("h-a-content")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let entry = Self.trashEntry(template)
        // Another certificate under D's name.
        let other = template.root.appendingPathComponent("LocalMachine/My/\(template.a).cer")
        let cer = entry.appendingPathComponent("\(template.d).cer")
        let original = try Data(contentsOf: cer)
        try Data(contentsOf: other).write(to: cer)
        var before = try DirectorySnapshot.take(template.root)
        let swapped = try certstore(expecting: 65, ["restore", template.d] + args)
        #expect(swapped.stderr.contains("SHA-1"), "\(swapped)")
        try ReliabilityTests.expectUnchanged(template.root, before)
        try original.write(to: cer)
        // Another key under D's key name.
        let keyName = try #require(try FileManager.default.contentsOfDirectory(atPath: entry.path).first { $0.hasSuffix(".key") })
        try Data(contentsOf: fx.strayKey).write(to: entry.appendingPathComponent(keyName))
        before = try DirectorySnapshot.take(template.root)
        let wrongKey = try certstore(expecting: 65, ["restore", template.d] + args)
        #expect(wrongKey.stderr.contains("key"), "\(wrongKey)")
        try ReliabilityTests.expectUnchanged(template.root, before)
    }

    // MARK: B — pruning old service versions

    @Test("B: a planted link Services/SMTP/v20200101T000000Z-AAAAAAAA -> a directory: the next SMTP change prunes old versions without deleting anything it points at")
    func pruneNeverFollowsPlantedVersionLink() throws {
        let (t, template, _) = try Self.template("h-b-prune")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let victim = t.path("victim")
        try FileManager.default.createDirectory(at: victim, withIntermediateDirectories: true)
        try Data("precious\n".utf8).write(to: victim.appendingPathComponent("precious.conf"))
        let smtp = template.root.appendingPathComponent("LocalMachine/Services/SMTP")
        try FileManager.default.createDirectory(at: smtp, withIntermediateDirectories: true)
        chmod(smtp.path, 0o755)
        chmod(smtp.deletingLastPathComponent().path, 0o755)
        let planted = smtp.appendingPathComponent("v20200101T000000Z-AAAAAAAA")
        #expect(symlink(victim.path, planted.path) == 0)
        try certstore(expecting: 0, ["enable", template.e, "--services", "SMTP", "--keep-default"] + args)
        try certstore(expecting: 0, ["enable", template.a, "--services", "SMTP", "--keep-default"] + args)
        try certstore(expecting: 0, ["disable", template.e, "--services", "SMTP", "--new-default", template.a] + args)
        #expect(FileManager.default.fileExists(atPath: victim.appendingPathComponent("precious.conf").path),
                "pruning followed the planted link and deleted what it points at")
        #expect(isSymbolicLink(planted), "the planted link itself is left for the administrator")
    }

    // MARK: C — a forged index

    /// Rewrites every keyless record of an index as Present ("Missing" and "Present" have the same length) and
    /// recomputes the SHA-256 trailer: what anyone who can write the index file can do.
    static func forgeIndex(_ index: URL, scratch: URL) throws {
        var bytes = [UInt8](try Data(contentsOf: index))
        let from = [UInt8(7)] + Array("Missing".utf8), to = [UInt8(7)] + Array("Present".utf8)
        var replaced = 0
        var position = 0
        while position + from.count <= bytes.count - 32 {
            if Array(bytes[position..<(position + from.count)]) == from {
                bytes.replaceSubrange(position..<(position + from.count), with: to)
                replaced += 1
            }
            position += 1
        }
        #expect(replaced > 0, "no keyless record in \(index.path)")
        let body = scratch.appendingPathComponent("index-body")
        try Data(bytes.dropLast(32)).write(to: body)
        let digest = try opensslResult(["dgst", "-sha256", "-binary", body.path], in: scratch).stdoutData
        #expect(digest.count == 32)
        try (Data(bytes.dropLast(32)) + digest).write(to: index)
    }

    @Test("C: an index forged with a valid SHA-256 trailer (a keyless certificate set to Present) is ignored when another user owns it, can write it, or owns .cache")
    func forgedIndexIgnored() throws {
        for attack in ["owner", "mode", "cache-owner"] {
            let (t, template, _) = try Self.template("h-c-index")
            defer { withExtendedLifetime(t) {} }
            let args = ["--root", template.root.path]
            try certstore(expecting: 0, ["list", "--format", "json"] + args)  // builds the index
            let cache = template.root.appendingPathComponent("LocalMachine/.cache")
            let index = cache.appendingPathComponent("My.index")
            #expect(FileManager.default.fileExists(atPath: index.path))
            try Self.forgeIndex(index, scratch: t.url)
            switch attack {
            case "owner": #expect(chown(index.path, Self.nobody, Self.nobody) == 0)
            case "mode": #expect(chmod(index.path, 0o666) == 0)
            default: #expect(chown(cache.path, Self.nobody, Self.nobody) == 0)
            }
            let keyed = try certstore(expecting: 0, ["list", "--has-private-key", "--format", "json"] + args)
            #expect(!(try jsonThumbprints(keyed.stdout)).contains(template.b), "\(attack): the forged index was believed:\n\(keyed)")
            let check = try certstore(expecting: 2, ["check"] + args)
            #expect(check.stdout.contains(".cache"), "\(attack): check does not say why the index is ignored:\n\(check)")
        }
    }

    @Test("C: a reader never writes the index through a .cache that is a symbolic link")
    func indexNeverWrittenThroughLinkedCache() throws {
        let (t, template, _) = try Self.template("h-c-link")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let cache = template.root.appendingPathComponent("LocalMachine/.cache")
        try? FileManager.default.removeItem(at: cache)
        let elsewhere = t.path("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        #expect(symlink(elsewhere.path, cache.path) == 0)
        try certstore(expecting: 0, ["list"] + args)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty, "a reader wrote through the linked .cache")
    }

    // MARK: D — every directory of a store obeys one rule

    @Test("D: My, CA, Root, Trash, Services at mode 0777 or owned by another user: every command refuses (77), check and audit say CRITICAL; a root owned by another user is CRITICAL in check")
    func untrustedSubdirectories() throws {
        for name in ["My", "CA", "Root", "Trash", "Services", ""] {
            for attack in ["mode", "owner"] where !(name.isEmpty && attack == "mode") {
                let (t, template, _) = try Self.template("h-d-dirs")
                defer { withExtendedLifetime(t) {} }
                let args = ["--root", template.root.path]
                try certstore(expecting: 0, ["enable", template.e, "--services", "IMAP"] + args)
                let directory = name.isEmpty ? template.root : template.root.appendingPathComponent("LocalMachine/\(name)")
                if !FileManager.default.fileExists(atPath: directory.path) { #expect(mkdir(directory.path, 0o755) == 0) }
                if attack == "mode" { #expect(chmod(directory.path, 0o777) == 0) } else { #expect(chown(directory.path, Self.nobody, Self.nobody) == 0) }
                let label = "\(name.isEmpty ? "root" : name) \(attack)"
                let list = try certstore(["list", "--store", "LocalMachine/Root"] + args)
                #expect(list.status == 77, "\(label): \(list)")
                try certstore(expecting: 77, ["import", template.leafPEM.path] + args)
                let check = try certstore(["check"] + args)
                #expect(check.status == 2 && check.stdout.contains(directory.path), "\(label): \(check)")
                let audit = try certstore(["audit"] + args)
                #expect(audit.status == 2 && audit.stdout.contains(directory.path), "\(label): \(audit)")
            }
        }
    }

    // MARK: E — service keys others can read

    static func versions(_ root: URL, _ service: String) -> [URL] {
        let folder = root.appendingPathComponent("LocalMachine/Services/\(service)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix("v") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    static func mode(_ url: URL) -> mode_t {
        var info = stat()
        return lstat(url.path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test("E: a deployed privkey.pem at 0644 is CRITICAL in audit (service-key-exposed); deploy tightens the kept previous version too")
    func worldReadableServiceKey() throws {
        let (t, template, _) = try Self.template("h-e-0644")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        try certstore(expecting: 0, ["enable", template.e, "--services", "IMAP"] + args)
        let key = template.root.appendingPathComponent("LocalMachine/Services/IMAP/current/privkey.pem")
        #expect(chmod(key.path, 0o644) == 0)
        let audit = try certstore(["audit", "--format", "json"] + args)
        #expect(audit.status == 2 && audit.stdout.contains("service-key-exposed"), "\(audit)")
        try certstore(expecting: 0, ["deploy"] + args)
        let versions = Self.versions(template.root, "IMAP")
        #expect(versions.count == 2, "the live version and the one before: \(versions)")
        for version in versions {
            let mode = Self.mode(version.appendingPathComponent("privkey.pem"))
            #expect(mode == 0o600, "\(version.lastPathComponent)/privkey.pem is \(String(mode, radix: 8))")
        }
        let after = try certstore(["audit", "--format", "json"] + args)
        #expect(!after.stdout.contains("service-key-exposed"), "\(after)")
    }

    @Test("E: with --service-user the key is root's, 0440, with the account's group (the daemon cannot loosen it); a previous version the account owned is tightened",
          .enabled(if: getpwnam("nobody") != nil))
    func serviceUserGetsGroupReadOnly() throws {
        let (t, template, _) = try Self.template("h-e-group")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let nogroup = try #require(getpwnam("nobody")).pointee.pw_gid
        try certstore(expecting: 0, ["enable", template.e, "--services", "IMAP"] + args)
        // A version made by an older certstore: the account owns its key.
        let old = try #require(Self.versions(template.root, "IMAP").first).appendingPathComponent("privkey.pem")
        #expect(chown(old.path, Self.nobody, nogroup) == 0 && chmod(old.path, 0o400) == 0)
        try certstore(expecting: 0, ["enable", template.e, "--services", "IMAP", "--service-user", "nobody"] + args)
        for version in Self.versions(template.root, "IMAP") {
            var info = stat()
            #expect(lstat(version.appendingPathComponent("privkey.pem").path, &info) == 0)
            #expect(info.st_uid == geteuid() && info.st_gid == nogroup && info.st_mode & 0o777 == 0o440,
                    "\(version.lastPathComponent): uid \(info.st_uid) gid \(info.st_gid) mode \(String(info.st_mode & 0o777, radix: 8))")
        }
        let audit = try certstore(["audit", "--format", "json"] + args)
        #expect(!audit.stdout.contains("service-key-exposed") && !audit.stdout.contains("service-key-unreadable"), "\(audit)")
    }

    // MARK: F — the hook environment

    @Test("F: a hook's environment holds PATH, HOME, LANG and the CERTSTORE_* variables, nothing of certstore's own (a --password-env variable)")
    func hookEnvironmentIsClean() throws {
        let (t, template, _) = try Self.template("h-f-env")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let hooks = template.root.appendingPathComponent("LocalMachine/Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        chmod(hooks.path, 0o755)
        let out = t.path("hook-env.txt")
        let hook = hooks.appendingPathComponent("10-env")
        try Data("#!/bin/sh\nenv > '\(out.path)'\n".utf8).write(to: hook)
        chmod(hook.path, 0o755)
        try certstore(expecting: 0, ["enable", template.e, "--services", "IMAP"] + args,
                      environment: ["PFXPW": "Corr3ct horse battery", "https_proxy": "http://user:secret@proxy:3128"])
        let names = Set(((try? String(contentsOf: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(!names.contains("PFXPW") && !names.contains("https_proxy"), "certstore's environment reached the hook: \(names.sorted())")
        #expect(names.isSuperset(of: ["PATH", "HOME", "LANG", "CERTSTORE_SERVICE", "CERTSTORE_ROOT", "CERTSTORE_LOCATION", "CERTSTORE_SERVICE_DIR",
                                      "CERTSTORE_OLD_THUMBPRINT", "CERTSTORE_NEW_THUMBPRINT"]), "\(names.sorted())")
        #expect(names.subtracting(["PATH", "HOME", "LANG", "PWD", "SHLVL", "_"]).allSatisfy { $0.hasPrefix("CERTSTORE_") }, "\(names.sorted())")
    }

    // MARK: H — suggested commands are shell-quoted

    static let hostileName = "Out $(touch pwned) `touch pwned2` ; touch pwned3 'q'"

    /// Runs each suggested `certstore …` line in /bin/sh with `certstore` a function that prints its arguments,
    /// in a scratch directory: a line is safe when nothing was created there and the name came through as one word.
    static func expectQuoted(_ lines: [String], name: String, scratch: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(!lines.isEmpty, "no suggested command names the connector", sourceLocation: sourceLocation)
        for line in lines {
            let dir = scratch.appendingPathComponent("sh-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "certstore() { printf '%s\\n' \"$@\" > args; }; " + line]
            process.currentDirectoryURL = dir
            try process.run()
            process.waitUntilExit()
            let created = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "args" }
            #expect(created.isEmpty, "pasting `\(line)` ran \(created)", sourceLocation: sourceLocation)
            let args = (try? String(contentsOf: dir.appendingPathComponent("args"), encoding: .utf8)) ?? ""
            #expect(args.split(separator: "\n").map(String.init).contains(name), "`\(line)` did not pass the name as one word: \(args)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test("H: a connector named with $( ), backquotes, ; and quotes: every audit and diagnose fix line that names it is one safe shell word")
    func suggestedCommandsAreQuoted() throws {
        let (t, template, fx) = try Self.template("h-h-quote")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        // A certificate enabled for SMTP: audit's fix for the connector names it (`connector set NAME --from-certificate`).
        try certstore(expecting: 0, ["enable", fx.hosts[0].thumbprint, "--services", "SMTP"] + args)
        try certstore(expecting: 0, ["connector", "add", Self.hostileName, "--tls-certificate-name", "<I>CN=Nobody CA<S>CN=nothing.example"] + args)
        let audit = try certstore(["audit", "--format", "json"] + args)
        let findings = (try JSONSerialization.jsonObject(with: audit.stdoutData) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
        let auditLines = findings.flatMap { $0["fix"] as? [String] ?? [] }.filter { $0.hasPrefix("certstore ") && $0.contains(" connector ") }
        try Self.expectQuoted(auditLines, name: Self.hostileName, scratch: t.url)

        var log = ProtocolLog()
        log.session(connector: Self.hostileName, error: "NoCredentials")
        let file = try log.write(to: t.path("logs/SEND20261128-1.log"))
        let diagnose = try certstore(["diagnose", "--protocol-log", file.path, "--format", "json"] + args)
        let groups = (try JSONSerialization.jsonObject(with: diagnose.stdoutData) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
        let diagnoseLines = groups.flatMap { (($0["diagnosis"] as? [String: Any])?["fix"] as? [String]) ?? [] }.filter { $0.hasPrefix("certstore ") && $0.contains(" connector ") }
        try Self.expectQuoted(diagnoseLines, name: Self.hostileName, scratch: t.url)
    }

    // MARK: G — control characters never reach the terminal raw

    static let hostileText = "evil\u{1B}]0;owned\u{07}\u{1B}[2J\r\u{9B}x"

    static func expectNoRawControls(_ result: CommandResult, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(rawControlCharacters(result.stdoutData).isEmpty && rawControlCharacters(result.stderrData).isEmpty,
                "\(label) printed raw control characters: \(rawControlCharacters(result.stdoutData + result.stderrData))\n\(result)",
                sourceLocation: sourceLocation)
        #expect((result.stdout + result.stderr).contains("\\x1B"), "\(label) does not show the escaped name:\n\(result)", sourceLocation: sourceLocation)
    }

    /// Replaces a JSON string value in a location document (JSON-escaped, as a hand edit would write it).
    static func replaceInDocument(_ name: String, _ old: String, with new: String, root: URL) throws {
        let url = root.appendingPathComponent("LocalMachine/\(name)")
        let encoded = String(decoding: try JSONSerialization.data(withJSONObject: [new]), as: UTF8.self).dropFirst(2).dropLast(2)
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"\(old)\"", with: "\"\(encoded)\"")
        try Data(text.utf8).write(to: url)
    }

    @Test("G: ESC, BEL, CR and C1 in connector names, protocol-log fields, file names and dependency names are escaped by connector resolve, diagnose, import and remove")
    func controlCharactersEscaped() throws {
        let (t, template, _) = try Self.template("h-g-controls")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        // The commands refuse such names; a hand-edited (or restored, or planted) document has them.
        try certstore(expecting: 0, ["connector", "add", "PlainName", "--tls-certificate-name", "<I>CN=Nobody CA<S>CN=nothing.example"] + args)
        try Self.replaceInDocument("connectors.json", "PlainName", with: Self.hostileText, root: template.root)
        Self.expectNoRawControls(try certstore(["connector", "resolve", Self.hostileText] + args), "connector resolve")

        var log = ProtocolLog()
        log.session(connector: Self.hostileText, error: "Bad\u{1B}[2JError")
        let file = try log.write(to: t.path("logs/SEND\u{1B}[2J-1.log"))
        Self.expectNoRawControls(try certstore(["diagnose", "--protocol-log", file.path] + args), "diagnose")

        let bad = try t.write("bad\u{1B}[2J\u{07}.pem", "not a certificate\n")
        Self.expectNoRawControls(try certstore(expecting: 65, ["import", bad.path] + args), "import")

        try certstore(expecting: 0, ["dependency", "add", "PlainApp", template.e] + args)
        try Self.replaceInDocument("dependencies.json", "PlainApp", with: Self.hostileText, root: template.root)
        Self.expectNoRawControls(try certstore(expecting: 2, ["remove", template.e] + args), "remove")
    }

    // MARK: I — a dead process's staging directory

    @Test("I: a removal re-run within the same second as a killed one does not reuse its Trash/.ID.partial: the temporary file it left never ends up in the committed entry")
    func staleStagingNotReused() throws {
        let (t, template, _) = try Self.template("h-i-staging")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let trash = template.root.appendingPathComponent("LocalMachine/Trash")
        // What a removal killed while copying leaves, for every second the re-run below may start in.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        let now = Date()
        for second in 0..<20 {
            let id = "\(formatter.string(from: now.addingTimeInterval(Double(second))))Z-\(template.a.prefix(8))"
            let staging = trash.appendingPathComponent(".\(id).partial")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
            chmod(staging.path, 0o700)
            try Data("half a copy".utf8).write(to: staging.appendingPathComponent(".\(template.a).cer.tmp-99999-12345"))
        }
        try certstore(expecting: 0, ["remove", template.a] + args)
        let entries = try FileManager.default.contentsOfDirectory(atPath: trash.path).filter { !$0.hasPrefix(".") && $0.hasSuffix(String(template.a.prefix(8))) }
        #expect(entries.count == 1, "\(entries)")
        for entry in entries {
            let files = try FileManager.default.contentsOfDirectory(atPath: trash.appendingPathComponent(entry).path).sorted()
            #expect(files == ["\(template.a).cer", "\(template.a).json", "manifest.json"].sorted(), "the committed entry holds \(files)")
        }
    }

    @Test("I: check reports a temporary file inside a committed trash entry as debris, and check --repair deletes it")
    func repairLooksInsideTrashEntries() throws {
        let (t, template, _) = try Self.template("h-i-repair")
        defer { withExtendedLifetime(t) {} }
        let args = ["--root", template.root.path]
        let stray = Self.trashEntry(template).appendingPathComponent(".\(template.d).cer.tmp-99999-12345")
        try Data("half a copy".utf8).write(to: stray)
        let check = try certstore(expecting: 1, ["check"] + args)
        #expect(check.stdout.contains(stray.lastPathComponent), "\(check)")
        try certstore(expecting: 0, ["check", "--repair"] + args)
        #expect(!FileManager.default.fileExists(atPath: stray.path))
        try certstore(expecting: 0, ["check"] + args)
        try certstore(expecting: 0, ["restore", template.d] + args)
    }

    // MARK: L — the default root

    @Test("L: ./Stores as a symbolic link (owned by another user) is never followed as the default root; a real ./Stores still is")
    func defaultRootNeverFollowsLink() throws {
        let (t, template, _) = try Self.template("h-l-root")
        defer { withExtendedLifetime(t) {} }
        let cwd = t.path("cwd")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        chmod(cwd.path, 0o755)
        let link = cwd.appendingPathComponent("Stores")
        #expect(symlink(template.root.path, link.path) == 0)
        #expect(lchown(link.path, Self.nobody, Self.nobody) == 0)
        let list = try certstore(["list", "--format", "json"], currentDirectory: cwd)
        #expect(list.status == 77 && list.stderr.contains("symbolic link"), "the planted ./Stores was followed:\n\(list)")
        #expect(list.stderr.contains("--root"), "\(list)")
        // Named explicitly, the same store is used.
        try certstore(expecting: 0, ["list", "--root", link.path], currentDirectory: cwd)
        // A real directory ./Stores is the default root, as before.
        unlink(link.path)
        try FileManager.default.moveItem(at: template.root, to: link)
        let real = try certstore(expecting: 0, ["list", "--format", "json"], currentDirectory: cwd)
        #expect(try jsonThumbprints(real.stdout).contains(template.e), "\(real)")
    }

    // MARK: K — probe --timeout is a deadline

    /// A server on 127.0.0.1 that drips one byte every 0.3 s to whoever connects: an SMTP greeting that never
    /// ends, or a TLS record header announcing 16 KiB that then arrives a zero at a time. It exits by itself
    /// after 40 s and is killed when the test is done with it.
    static func drippingServer(_ kind: String, scratch: URL) throws -> (BackgroundServer, UInt16) {
        let python = try #require(FakeMailServer.python, "python3 is needed for the dripping server")
        let port = try Loopback.freePort()
        let script = scratch.appendingPathComponent("drip-\(kind).py")
        try Data("""
            import socket, sys, threading, time
            first = b"220-" if sys.argv[2] == "smtp" else bytes([0x16, 0x03, 0x03, 0x40, 0x00])
            drip = b"x" if sys.argv[2] == "smtp" else b"\\x00"
            def serve(conn):
                try:
                    conn.sendall(first)
                    while True:
                        time.sleep(0.3)
                        conn.sendall(drip)
                except OSError:
                    pass
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", int(sys.argv[1])))
            server.listen(8)
            threading.Timer(40, lambda: __import__("os")._exit(0)).start()
            while True:
                conn, _ = server.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()
            """.utf8).write(to: script)
        let server = BackgroundServer("dripping \(kind) server", try RunningProcess(executable: python, arguments: [script.path, String(port), kind]))
        #expect(Loopback.waitUntilAccepting(port), "the dripping server did not start")
        return (server, port)
    }

    @Test("K: a server dripping a byte every 0.3 s (an endless SMTP greeting, a TLS record that never completes) cannot keep probe --timeout 2 running: it gives up after about 2 s",
          arguments: ["smtp", "smtps"])
    func probeTimeoutIsADeadline(_ kind: String) throws {
        let (t, template, _) = try Self.template("h-k-probe")
        defer { withExtendedLifetime(t) {} }
        let (server, port) = try Self.drippingServer(kind == "smtp" ? "smtp" : "tls", scratch: t.url)
        defer { server.stop() }
        let start = monotonicSeconds()
        let result = try certstore(["probe", "\(kind)://127.0.0.1:\(port)", "--timeout", "2", "--root", template.root.path], timeout: 12)
        let seconds = monotonicSeconds() - start
        #expect(!result.timedOut && result.status != 0, "\(result)")
        #expect(seconds < 6, "probe --timeout 2 took \(seconds) s")
        #expect(result.stderr.contains("2 s"), "the error says which deadline passed:\n\(result)")
    }

    // MARK: J — diagnose memory with sessions that never close

    @Test("J: diagnose of a log of 30,000 sessions that never log their disconnect (each with a 3 KB certificate subject) stays under 110 MB: the open-session table is bounded",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time")))
    func diagnoseMemoryBounded() throws {
        let (t, template, _) = try Self.template("h-j-sessions")
        defer { withExtendedLifetime(t) {} }
        let subject = "CN=" + String(repeating: "x", count: 3_000)
        var data = Data(ProtocolLog().text.utf8)
        data.reserveCapacity(100_000_000)
        for index in 0..<30_000 {
            let session = String(format: "08DE2F1A%08X", index)
            data.append(Data("2026-11-28T09:00:00.000Z,Outbound,\(session),0,192.168.0.78:28252,104.47.2.36:25,*,,Sending certificate\r\n".utf8))
            data.append(Data("2026-11-28T09:00:00.001Z,Outbound,\(session),1,192.168.0.78:28252,104.47.2.36:25,*,\(subject),Certificate subject\r\n".utf8))
        }
        let log = try t.write("SEND20261128-open.log", data)
        data = Data()
        let binary = try CertStoreCLI.requireBinary()
        let result = try RunningProcess(executable: URL(fileURLWithPath: "/usr/bin/time"),
                                        arguments: ["-f", "maxrss-kb %M", binary.path, "diagnose", "--protocol-log", log.path, "--root", template.root.path],
                                        environment: CertStoreCLI.environment()).wait(timeout: 400)
        #expect(result.status == 0, "\(result)")
        let line = result.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss-kb ") }
        let kilobytes = Int(line?.dropFirst("maxrss-kb ".count) ?? "") ?? Int.max
        #expect(kilobytes < 110_000, "diagnose peaked at \(kilobytes / 1024) MB for 30,000 open sessions")
        #expect(result.stdout.contains("30000 sessions") && result.stdout.contains("20000 sessions that never ended forgotten"), "\(result.stdout)")
    }
}
