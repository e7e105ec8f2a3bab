import Foundation
import Testing

/// The "real services" features with the real binary on temporary stores: the files certstore keeps for
/// each service (Services/SERVICE/current → vSTAMP-THUMB8/…), which bound certificate a service gets, the
/// service account's key file, deploy hooks, `service-config`, and `probe` against local TLS servers
/// (openssl s_server, and a python3 server for the STARTTLS dialogues). The real-postfix run is PostfixTests.
@Suite("services: files, hooks, service-config, probe")
struct ServicesTests {
    // MARK: - Helpers

    /// A store root with the TestPKI CA trusted in LocalMachine/Root.
    struct Machine {
        let t: TestDirectory
        let pki: TestPKI

        init(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            t = try TestDirectory(label)
            pki = try TestPKI(in: t.path("pki"))
            try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs,
                          sourceLocation: sourceLocation)
        }

        var args: [String] { t.rootArgs }
        var location: URL { t.root.appendingPathComponent("LocalMachine", isDirectory: true) }
        var hooks: URL { location.appendingPathComponent("Hooks", isDirectory: true) }
        func folder(_ service: String) -> URL { location.appendingPathComponent("Services/\(service)", isDirectory: true) }
        func current(_ service: String) -> URL { folder(service).appendingPathComponent("current") }
        func file(_ service: String, _ name: String) -> URL { current(service).appendingPathComponent(name) }

        /// A CA-issued (or self-signed) server certificate, imported with its key.
        @discardableResult
        func add(_ name: String, subject: String = TestPKI.mailSubject, days: Int = 365, notBeforeDaysAgo: Int? = nil,
                 selfSigned: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestPKI.Cert {
            let cert = try pki.issue(name, subject: subject, days: days, notBeforeDaysAgo: notBeforeDaysAgo,
                                     dnsNames: ["mail.contoso.com"], selfSigned: selfSigned)
            try importWithKey(cert, sourceLocation: sourceLocation)
            return cert
        }

        func importWithKey(_ cert: TestPKI.Cert, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try certstore(expecting: 0, ["import", try pki.withKey(cert).path] + args, sourceLocation: sourceLocation)
        }

        @discardableResult
        func enable(_ cert: TestPKI.Cert, _ services: String, _ extra: [String] = [], expecting status: Int32 = 0,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
            try certstore(expecting: status, ["enable", cert.thumbprint, "--services", services] + extra + args,
                          sourceLocation: sourceLocation)
        }

        /// The thumbprint file through `current`, trimmed (nil when there is none).
        func deployed(_ service: String) -> String? {
            (try? String(contentsOf: file(service, "thumbprint"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Where `current` points (nil when it does not exist).
        func linkTarget(_ service: String) -> String? {
            try? FileManager.default.destinationOfSymbolicLink(atPath: current(service).path)
        }

        /// The version directories of a service, sorted.
        func versions(_ service: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder(service).path)) ?? []).filter { $0.hasPrefix("v") }.sorted()
        }

        /// Creates Hooks/ (0755) and writes `hooks` (name → shell body) with their modes.
        func installHooks(_ hooks: [(name: String, body: String, mode: mode_t)]) throws {
            try FileManager.default.createDirectory(at: self.hooks, withIntermediateDirectories: true)
            chmod(self.hooks.path, 0o755)
            for hook in hooks {
                let url = self.hooks.appendingPathComponent(hook.name)
                try Data("#!/bin/sh\n\(hook.body)\n".utf8).write(to: url)
                chmod(url.path, hook.mode)
            }
        }

        /// `audit --format json`.
        func audit(sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [[String: Any]]) {
            let result = try certstore(["audit", "--format", "json"] + args, sourceLocation: sourceLocation)
            return (result, auditFindings(try parseJSONObject(result.stdout)))
        }

        /// Every service file of `service` is there, consistent and holds `cert` (with `chain` as chain.pem).
        func expectServiceFiles(_ service: String, hold cert: TestPKI.Cert, chain: [String] = [], keyOwner: uid_t = geteuid(),
                                keyMode: mode_t = 0o600, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let link = current(service)
            var info = stat()
            try #require(lstat(link.path, &info) == 0, "\(link.path) is missing", sourceLocation: sourceLocation)
            #expect(info.st_mode & S_IFMT == S_IFLNK, "current must be a symbolic link", sourceLocation: sourceLocation)
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: link.path)
            #expect(!target.contains("/"), "current → \(target) must name a sibling", sourceLocation: sourceLocation)
            #expect(target.hasPrefix("v") && target.contains("Z-\(cert.thumbprint.prefix(8))"), "current → \(target)", sourceLocation: sourceLocation)
            var dirInfo = stat()
            #expect(lstat(folder(service).appendingPathComponent(target).path, &dirInfo) == 0 && dirInfo.st_mode & S_IFMT == S_IFDIR,
                    "\(target) is not a directory beside current", sourceLocation: sourceLocation)
            let names = try FileManager.default.contentsOfDirectory(atPath: link.path).sorted()
            #expect(names == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "thumbprint"], "\(names)", sourceLocation: sourceLocation)

            let scratch = t.url
            #expect(try String(contentsOf: file(service, "thumbprint"), encoding: .utf8) == cert.thumbprint + "\n", sourceLocation: sourceLocation)
            #expect(try PEMInspection.thumbprints(file(service, "cert.pem"), scratch: scratch) == [cert.thumbprint], sourceLocation: sourceLocation)
            #expect(try PEMInspection.thumbprints(file(service, "chain.pem"), scratch: scratch) == chain, sourceLocation: sourceLocation)
            let full = try Data(contentsOf: file(service, "fullchain.pem"))
            #expect(full == (try Data(contentsOf: file(service, "cert.pem")) + Data(contentsOf: file(service, "chain.pem"))),
                    "fullchain.pem must be cert.pem followed by chain.pem", sourceLocation: sourceLocation)

            let key = file(service, "privkey.pem")
            var keyInfo = stat()
            try #require(stat(key.path, &keyInfo) == 0, sourceLocation: sourceLocation)
            #expect(keyInfo.st_mode & 0o7777 == keyMode, "privkey.pem mode \(octal(keyInfo.st_mode & 0o7777))", sourceLocation: sourceLocation)
            #expect(keyInfo.st_uid == keyOwner, "privkey.pem owner \(keyInfo.st_uid)", sourceLocation: sourceLocation)
            #expect(try String(contentsOf: key, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----"), "unencrypted PKCS#8",
                    sourceLocation: sourceLocation)
            #expect(try PEMInspection.publicKey(ofKey: key, scratch: scratch) == PEMInspection.publicKey(ofCertificate: file(service, "cert.pem"), scratch: scratch),
                    "privkey.pem does not belong to cert.pem", sourceLocation: sourceLocation)
        }
    }

    /// Certificates sorted by thumbprint: enabled in this order, the version directories' names sort in the
    /// order they were written even within one second (see the unit suite for the case where they do not).
    static func byThumbprint(_ certs: [TestPKI.Cert]) -> [TestPKI.Cert] { certs.sorted { $0.thumbprint < $1.thumbprint } }

    // MARK: - 1. The files

    @Test("enable writes Services/SMTP/current → vSTAMP-THUMB8 with cert, chain (intermediates only), fullchain, privkey 0600, thumbprint")
    func enableWritesServiceFiles() throws {
        let m = try Machine("svc-files")
        let intermediate = try m.pki.intermediate()
        let leaf = try m.pki.issue("leaf", subject: "/CN=mail.contoso.com", by: intermediate, dnsNames: ["mail.contoso.com"])
        // The root is in Root and, as some admins do, in CA as well: it is never part of chain.pem.
        try certstore(expecting: 0, ["import", m.pki.ca.pem.path, "--store", "LocalMachine/CA"] + m.args)
        try certstore(expecting: 0, ["import", intermediate.pem.path, "--store", "LocalMachine/CA"] + m.args)
        try m.importWithKey(leaf)
        #expect(!FileManager.default.fileExists(atPath: m.location.appendingPathComponent("Services/SMTP").path),
                "nothing is deployed before a binding")

        let enabled = try m.enable(leaf, "SMTP")
        #expect(enabled.stderr.contains("SMTP now presents \(leaf.thumbprint): \(m.current("SMTP").path)"), "\(enabled)")
        try m.expectServiceFiles("SMTP", hold: leaf, chain: [intermediate.thumbprint])
        #expect(m.versions("SMTP") == [m.linkTarget("SMTP")].compactMap { $0 })
        let target = try #require(m.linkTarget("SMTP"))
        #expect(target.range(of: #"^v[0-9]{8}T[0-9]{6}Z-[0-9A-F]{8}$"#, options: .regularExpression) != nil, "\(target)")
        // Only SMTP was bound.
        for service in ["IIS", "IMAP", "POP"] {
            #expect(m.linkTarget(service) == nil, "\(service) has files without a binding")
        }

        // A certificate the root issues directly has an empty chain.pem, and fullchain.pem is cert.pem.
        let direct = try m.add("direct")
        try m.enable(direct, "IIS")
        try m.expectServiceFiles("IIS", hold: direct, chain: [])
        #expect(try Data(contentsOf: m.file("IIS", "chain.pem")).isEmpty)
        // SMTP was left alone.
        #expect(m.linkTarget("SMTP") == target)
    }

    // MARK: - 2. Switching, pruning, withdrawing

    @Test("--overwrite-default switches current; the version before is kept, older ones go (two remain after three switches); disabling the last SMTP certificate removes current")
    func switchingAndPruning() throws {
        let m = try Machine("svc-switch")
        let certs = Self.byThumbprint(try (1...4).map { try m.add("mail-\($0)") })
        try m.enable(certs[0], "SMTP")
        try m.expectServiceFiles("SMTP", hold: certs[0])
        var live = [try #require(m.linkTarget("SMTP"))]

        for (index, cert) in certs.enumerated().dropFirst() {
            let result = try m.enable(cert, "SMTP", ["--overwrite-default"])
            #expect(result.stderr.contains("SMTP now presents \(cert.thumbprint) (was \(certs[index - 1].thumbprint))"), "\(result)")
            try m.expectServiceFiles("SMTP", hold: cert)
            live.append(try #require(m.linkTarget("SMTP")))
            #expect(live[index] != live[index - 1])
            // The live version and the one just before it, nothing older.
            #expect(m.versions("SMTP") == Array(live.suffix(2)).sorted(), "after switch \(index): \(m.versions("SMTP")), live \(live)")
        }
        #expect(m.versions("SMTP").count == 2)

        // Unbinding the non-default certificates changes nothing SMTP presents, and writes no version.
        let before = m.versions("SMTP")
        for cert in certs.dropLast() {
            let result = try certstore(expecting: 0, ["disable", cert.thumbprint] + m.args)
            #expect(!result.stderr.contains("now presents"), "\(result)")
        }
        #expect(m.versions("SMTP") == before)
        #expect(m.deployed("SMTP") == certs[3].thumbprint)

        // The last SMTP certificate: current and every version directory go.
        let last = try certstore(expecting: 0, ["disable", certs[3].thumbprint] + m.args)
        #expect(last.stderr.contains("SMTP now presents nothing"), "\(last)")
        var info = stat()
        #expect(lstat(m.current("SMTP").path, &info) != 0, "current must be gone")
        #expect(m.versions("SMTP").isEmpty, "\(m.versions("SMTP"))")
    }

    @Test("--keep-default: a trusted certificate takes over current from a self-signed default, which stays the default")
    func keepDefaultSwitchesFromSelfSigned() throws {
        let m = try Machine("svc-keep")
        let exch01 = try m.add("exch01", subject: "/CN=EXCH01", selfSigned: true)
        try m.enable(exch01, "SMTP")
        try m.expectServiceFiles("SMTP", hold: exch01)
        let first = try #require(m.linkTarget("SMTP"))

        let mail = try m.add("mail")
        let result = try m.enable(mail, "SMTP", ["--keep-default"])
        #expect(result.stdout.contains("Default SMTP certificate: \(exch01.thumbprint) (unchanged)"), "\(result)")
        #expect(result.stderr.contains("SMTP now presents \(mail.thumbprint) (was \(exch01.thumbprint))"), "\(result)")
        try m.expectServiceFiles("SMTP", hold: mail)
        #expect(m.versions("SMTP") == [first, try #require(m.linkTarget("SMTP"))].sorted(), "the previous version stays")
        let bindings = try parseJSONObject(try certstore(expecting: 0, ["bindings", "--format", "json"] + m.args).stdout)
        #expect(bindings["defaultSmtpCertificate"] as? String == exch01.thumbprint)
    }

    @Test("remove of a bound certificate is refused and changes no file; remove --force and restore keep the files in step")
    func removeForceRestore() throws {
        let m = try Machine("svc-remove")
        let a = try m.add("mail-a")
        let b = try m.add("mail-b")
        try m.enable(a, "SMTP")
        try m.enable(b, "SMTP", ["--keep-default"])
        try m.expectServiceFiles("SMTP", hold: a)  // both trusted and valid: the default wins

        let before = try DirectorySnapshot.take(m.location.appendingPathComponent("Services"))
        let refused = try certstore(expecting: 2, ["remove", a.thumbprint] + m.args)
        #expect(refused.stderr.contains("refusing to remove"), "\(refused)")
        let after = try DirectorySnapshot.take(m.location.appendingPathComponent("Services"))
        #expect(after == before, "\(before.differences(to: after))")

        let forced = try certstore(expecting: 0, ["remove", a.thumbprint, "--force"] + m.args)
        #expect(forced.stderr.contains("SMTP now presents \(b.thumbprint) (was \(a.thumbprint))"), "\(forced)")
        try m.expectServiceFiles("SMTP", hold: b)

        let id = try #require(trashID(in: forced.stdout), "\(forced)")
        let restored = try certstore(expecting: 0, ["restore", id] + m.args)
        #expect(restored.stderr.contains("SMTP now presents \(a.thumbprint) (was \(b.thumbprint))"), "\(restored)")
        try m.expectServiceFiles("SMTP", hold: a)
        #expect(m.versions("SMTP").count == 2)

        // Forced removal of the only IIS certificate withdraws IIS's files; restore brings them back.
        try m.enable(b, "IIS")
        try m.expectServiceFiles("IIS", hold: b)
        let gone = try certstore(expecting: 0, ["remove", b.thumbprint, "--force"] + m.args)
        #expect(m.linkTarget("IIS") == nil && m.versions("IIS").isEmpty, "\(gone)")
        #expect(m.deployed("SMTP") == a.thumbprint)
        try certstore(expecting: 0, ["restore", try #require(trashID(in: gone.stdout))] + m.args)
        try m.expectServiceFiles("IIS", hold: b)
    }

    // MARK: - 3. Which certificate

    @Test("ranking: CA-issued beats a self-signed default; time-valid beats an expired default; with both trusted the default wins; else the newest NotBefore")
    func ranking() throws {
        let m = try Machine("svc-rank")
        // KB: self-signed EXCH01 is the default SMTP certificate, the CA-issued one is bound with --keep-default.
        let exch01 = try m.add("exch01", subject: "/CN=EXCH01", selfSigned: true)
        let issued = try m.add("issued")
        try m.enable(exch01, "SMTP,IIS")
        try m.enable(issued, "SMTP", ["--keep-default"])
        #expect(m.deployed("SMTP") == issued.thumbprint)
        #expect(m.deployed("IIS") == exch01.thumbprint, "IIS has only the self-signed one")

        // IMAP: an expired, trusted certificate is the first bound; a time-valid one bound later takes over.
        let expired = try m.add("expired", days: 30, notBeforeDaysAgo: 400)
        let valid = try m.add("valid")
        try m.enable(expired, "IMAP")
        #expect(m.deployed("IMAP") == expired.thumbprint, "an expired certificate still qualifies when it is the only one")
        try m.enable(valid, "IMAP")
        #expect(m.deployed("IMAP") == valid.thumbprint)

        // SMTP with an expired default: the valid one is presented, the default stays.
        let m2 = try Machine("svc-rank2")
        let old = try m2.add("old", days: 30, notBeforeDaysAgo: 400)
        let fresh = try m2.add("fresh")
        try m2.enable(old, "SMTP")
        try m2.enable(fresh, "SMTP", ["--keep-default"])
        #expect(m2.deployed("SMTP") == fresh.thumbprint)

        // Both trusted and valid: the default SMTP certificate wins over a newer one kept non-default.
        let older = try m2.add("older", notBeforeDaysAgo: 10)
        let newer = try m2.add("newer")
        try certstore(expecting: 0, ["disable", old.thumbprint, "--new-default", fresh.thumbprint] + m2.args)
        try m2.enable(older, "SMTP", ["--overwrite-default"])
        #expect(m2.deployed("SMTP") == older.thumbprint)
        try m2.enable(newer, "SMTP", ["--keep-default"])
        #expect(m2.deployed("SMTP") == older.thumbprint, "the default wins among trusted, valid certificates")

        // POP has no default: the newest NotBefore wins, whatever the binding order.
        try m2.enable(newer, "POP")
        try m2.enable(older, "POP")
        #expect(m2.deployed("POP") == newer.thumbprint)
    }

    // MARK: - 4. The service's account

    static let nobody: (uid: uid_t, gid: gid_t)? = getpwnam("nobody").map { ($0.pointee.pw_uid, $0.pointee.pw_gid) }

    @Test("--service-user nobody: privkey.pem 0440 root:nogroup (E: never the daemon's own file); \"\" gives it back; an unknown account is refused (64) and nothing changes",
          .enabled(if: getuid() == 0 && ServicesTests.nobody != nil, "needs root (chown) and the nobody account"))
    func serviceUser() throws {
        let nobody = try #require(Self.nobody)
        let m = try Machine("svc-user")
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP,IMAP")
        try m.expectServiceFiles("SMTP", hold: cert)

        let given = try m.enable(cert, "SMTP", ["--service-user", "nobody"])
        #expect(given.stderr.contains("SMTP now presents \(cert.thumbprint) (was \(cert.thumbprint))"), "\(given)")
        #expect(!given.stderr.contains("IMAP now presents"), "only the services named get the account")
        try m.expectServiceFiles("SMTP", hold: cert, keyOwner: geteuid(), keyMode: 0o440)
        var info = stat()
        #expect(stat(m.file("SMTP", "privkey.pem").path, &info) == 0 && info.st_gid == nobody.gid, "the account's primary group")
        #expect(stat(m.file("SMTP", "cert.pem").path, &info) == 0 && info.st_uid == geteuid(), "only the key changes hands")
        try m.expectServiceFiles("IMAP", hold: cert)
        let bindings = try String(contentsOf: m.location.appendingPathComponent("bindings.json"), encoding: .utf8)
        #expect(bindings.contains("\"SMTP\" : \"nobody\""), "\(bindings)")

        // A later switch keeps the account.
        let next = try m.add("mail-next")
        try m.enable(next, "SMTP", ["--overwrite-default"])
        try m.expectServiceFiles("SMTP", hold: next, keyOwner: geteuid(), keyMode: 0o440)

        let before = try DirectorySnapshot.take(m.t.root)
        let unknown = try m.enable(next, "SMTP", ["--service-user", "no-such-account-\(getpid())"], expecting: 64)
        #expect(unknown.stderr.contains("there is no account"), "\(unknown)")
        let after = try DirectorySnapshot.take(m.t.root)
        #expect(after == before, "\(before.differences(to: after))")

        try m.enable(next, "SMTP", ["--service-user", ""])
        try m.expectServiceFiles("SMTP", hold: next, keyOwner: geteuid(), keyMode: 0o600)
        #expect(!(try String(contentsOf: m.location.appendingPathComponent("bindings.json"), encoding: .utf8)).contains("nobody"))
    }

    @Test("audit: CRITICAL service-key-unreadable when the key file's owner is changed by hand; deploy fixes it",
          .enabled(if: getuid() == 0 && ServicesTests.nobody != nil, "needs root (chown) and the nobody account"))
    func serviceKeyUnreadable() throws {
        _ = try #require(Self.nobody)
        let m = try Machine("svc-unreadable")
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP", ["--service-user", "nobody"])
        let (clean, cleanFindings) = try m.audit()
        #expect(!cleanFindings.contains { $0["check"] as? String == "service-key-unreadable" }, "\(clean)")

        let key = m.file("SMTP", "privkey.pem")
        #expect(chown(key.path, 0, 0) == 0)
        let (broken, findings) = try m.audit()
        #expect(broken.status == 2, "\(broken)")
        let finding = findings.first { $0["check"] as? String == "service-key-unreadable" }
        #expect(finding?["severity"] as? String == "CRITICAL", "\(broken)")
        #expect((finding?["fix"] as? [String]) == ["certstore --root \(m.t.rootPath) deploy"], "\(broken)")

        let deploy = try certstore(expecting: 0, ["deploy"] + m.args)
        #expect(deploy.stderr.contains("SMTP now presents \(cert.thumbprint) (was \(cert.thumbprint))"), "\(deploy)")
        try m.expectServiceFiles("SMTP", hold: cert, keyOwner: geteuid(), keyMode: 0o440)
        let (fixed, fixedFindings) = try m.audit()
        #expect(!fixedFindings.contains { $0["check"] as? String == "service-key-unreadable" }, "\(fixed)")
    }

    @Test("audit's fix for a service key its account cannot read (mode 000 by hand) is deploy, and deploy does fix it",
          .enabled(if: getuid() == 0 && ServicesTests.nobody != nil, "needs root (chown) and the nobody account"))
    func serviceKeyModeLost() throws {
        _ = try #require(Self.nobody)
        let m = try Machine("svc-mode000")
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP", ["--service-user", "nobody"])
        chmod(m.file("SMTP", "privkey.pem").path, 0)
        let (broken, findings) = try m.audit()
        #expect(findings.contains { $0["check"] as? String == "service-key-unreadable" }, "\(broken)")
        try certstore(expecting: 0, ["deploy"] + m.args)
        try m.expectServiceFiles("SMTP", hold: cert, keyOwner: geteuid(), keyMode: 0o440)
        let (after, afterFindings) = try m.audit()
        #expect(!afterFindings.contains { $0["check"] as? String == "service-key-unreadable" }, "\(after)")
    }

    // MARK: - 5. Hooks

    /// A hook body that appends `name|SERVICE|OLD|NEW|DIR|ROOT|LOCATION` to `log`.
    static func loggingHook(_ name: String, log: URL) -> String {
        """
        printf '%s|%s|%s|%s|%s|%s|%s\\n' '\(name)' "$CERTSTORE_SERVICE" "$CERTSTORE_OLD_THUMBPRINT" "$CERTSTORE_NEW_THUMBPRINT" \
          "$CERTSTORE_SERVICE_DIR" "$CERTSTORE_ROOT" "$CERTSTORE_LOCATION" >> '\(log.path)'
        echo "hello from \(name)"
        """
    }

    static func logLines(_ log: URL) -> [[String]] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
            .map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test("hooks run in name order, once per changed service, with the CERTSTORE_* environment and /dev/null as input; a hook may run certstore itself")
    func hookEnvironment() throws {
        let m = try Machine("svc-hooks")
        let a = try m.add("mail-a", notBeforeDaysAgo: 2)
        let b = try m.add("mail-b")
        let log = m.t.path("hooks.log")
        let stdinCopy = m.t.path("hook-stdin.txt")
        // Written in the opposite order of their names.
        try m.installHooks([
            (name: "20-second", body: Self.loggingHook("20-second", log: log), mode: 0o755),
            (name: "10-first", body: Self.loggingHook("10-first", log: log) + "\ncat >> '\(stdinCopy.path)'", mode: 0o700),
        ])

        let enabled = try certstore(expecting: 0, ["enable", a.thumbprint, "--services", "SMTP,IIS"] + m.args, stdin: .text("not for hooks\n"))
        let lines = Self.logLines(log)
        #expect(lines.count == 4, "\(lines)\n\(enabled)")
        for service in ["SMTP", "IIS"] {
            let mine = lines.filter { $0.count == 7 && $0[1] == service }
            #expect(mine.map { $0[0] } == ["10-first", "20-second"], "\(service): \(lines)")
            for line in mine {
                #expect(Array(line[2...]) == ["", a.thumbprint, m.current(service).path, m.t.rootPath, "LocalMachine"], "\(line)")
            }
            #expect(enabled.stderr.contains("hook 10-first (\(service)): ok"), "\(enabled)")
            #expect(enabled.stderr.contains("hook 20-second (\(service)): ok"), "\(enabled)")
        }
        #expect(enabled.stderr.contains("  | hello from 10-first"), "hook output is shown after a |: \(enabled)")
        #expect(fileBytes(stdinCopy) == Data(), "a hook's standard input is /dev/null")

        // A relative --root: the hook still gets absolute paths. Only IIS changes (b is newer; IIS has no default).
        try Data().write(to: log)
        try certstore(expecting: 0, ["enable", b.thumbprint, "--services", "IIS", "--root", "root"], currentDirectory: m.t.url)
        #expect(Self.logLines(log) == [
            ["10-first", "IIS", a.thumbprint, b.thumbprint, m.current("IIS").path, m.t.rootPath, "LocalMachine"],
            ["20-second", "IIS", a.thumbprint, b.thumbprint, m.current("IIS").path, m.t.rootPath, "LocalMachine"],
        ])

        // A hook runs after the lock is released: a writer it starts (on CERTSTORE_ROOT) does not wait for it.
        let nested = m.t.path("nested.out")
        // (Hooks get a clean environment, F of issue 13: the binary's path is written into the hook.)
        let binary = try CertStoreCLI.requireBinary().path
        try m.installHooks([(name: "30-nested", body: "'\(binary)' deploy --lock-timeout 2 > '\(nested.path)' 2>&1; echo \"exit $?\" >> '\(nested.path)'", mode: 0o755)])
        try Data().write(to: log)
        let disabled = try certstore(expecting: 0, ["disable", b.thumbprint] + m.args)
        #expect(Self.logLines(log).map { [$0[0], $0[1], $0[2], $0[3]] } == [["10-first", "IIS", b.thumbprint, a.thumbprint], ["20-second", "IIS", b.thumbprint, a.thumbprint]])
        let nestedText = (try? String(contentsOf: nested, encoding: .utf8)) ?? ""
        #expect(nestedText.contains("Service files are in line with the bindings.") && nestedText.hasSuffix("exit 0\n"), "\(nestedText)\n\(disabled)")
        #expect(disabled.stderr.contains("hook 30-nested (IIS): ok"), "\(disabled)")
    }

    @Test("a failing hook (exit 3) is reported, the next hook still runs, the command exits 0 with the files switched")
    func failingHook() throws {
        let m = try Machine("svc-hookfail")
        let cert = try m.add("mail")
        let marker = m.t.path("after-ran")
        try m.installHooks([
            (name: "10-fail", body: "echo 'reload failed: no such daemon'\nexit 3", mode: 0o755),
            (name: "20-after", body: "touch '\(marker.path)'", mode: 0o755),
        ])
        let result = try m.enable(cert, "SMTP")
        #expect(result.stderr.contains("hook 10-fail (SMTP) exited 3"), "\(result)")
        #expect(result.stderr.contains("  | reload failed: no such daemon"), "\(result)")
        #expect(result.stderr.contains("hook 20-after (SMTP): ok"), "\(result)")
        #expect(FileManager.default.fileExists(atPath: marker.path))
        try m.expectServiceFiles("SMTP", hold: cert)
    }

    /// Installs `body` as hook 10-slow, forces a change and runs `deploy --hook-timeout 1`; returns the result,
    /// how long deploy took, and the pid the hook wrote to `pidFile` (0 if none).
    static func deployWithSlowHook(_ m: Machine, body: String, pidFile: URL) throws -> (CommandResult, Double, pid_t) {
        try m.installHooks([(name: "10-slow", body: body, mode: 0o755)])
        try FileManager.default.removeItem(at: m.current("SMTP"))  // force a change
        let start = Date()
        let result = try certstore(expecting: 0, ["deploy", "--hook-timeout", "1"] + m.args, timeout: 40)
        let elapsed = Date().timeIntervalSince(start)
        let pid = pid_t((try? String(contentsOf: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        return (result, elapsed, pid)
    }

    @Test("a hook running past --hook-timeout is stopped and reported; deploy returns soon after the timeout")
    func hookTimeout() throws {
        let m = try Machine("svc-hooktimeout")
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP")
        let pidFile = m.t.path("hook.pid")
        let (result, elapsed, hookPID) = try Self.deployWithSlowHook(m, body: "echo $$ > '\(pidFile.path)'\nexec sleep 30", pidFile: pidFile)
        defer { if processIsAlive(hookPID) { kill(hookPID, SIGKILL) } }
        #expect(result.stderr.contains("hook 10-slow (SMTP) timed out after 1 s and was stopped"), "\(result)")
        #expect(elapsed < 10, "deploy took \(elapsed) s with --hook-timeout 1")
        #expect(hookPID > 0 && !processIsAlive(hookPID), "the hook (pid \(hookPID)) is still running")
        try m.expectServiceFiles("SMTP", hold: cert)
    }

    @Test("a timed-out hook whose child keeps running (sleep in a shell script) does not keep deploy waiting")
    func hookTimeoutWithChild() throws {
        let m = try Machine("svc-hookchild")
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP")
        let pidFile = m.t.path("child.pid")
        let (result, elapsed, childPID) = try Self.deployWithSlowHook(m, body: "sleep 15 &\necho $! > '\(pidFile.path)'\nwait", pidFile: pidFile)
        defer { if processIsAlive(childPID) { kill(childPID, SIGKILL) } }
        #expect(result.stderr.contains("hook 10-slow (SMTP) timed out after 1 s and was stopped"), "\(result)")
        #expect(elapsed < 10, "deploy took \(elapsed) s with --hook-timeout 1")
    }

    @Test("unsafe hooks are not run and are reported (group-writable hook, Hooks/ writable by others); non-executables and dot-files are ignored")
    func unsafeAndIgnoredHooks() throws {
        let m = try Machine("svc-hooksafe")
        let cert = try m.add("mail")
        func marker(_ name: String) -> URL { m.t.path("ran-\(name)") }
        try m.installHooks(["10-ok", "20-group-writable", "30-not-executable", ".40-dot"].map { name in
            let mode: mode_t = name == "20-group-writable" ? 0o775 : name == "30-not-executable" ? 0o644 : 0o755
            return (name: name, body: "touch '\(marker(name).path)'", mode: mode)
        })
        let result = try m.enable(cert, "SMTP")
        #expect(FileManager.default.fileExists(atPath: marker("10-ok").path), "\(result)")
        for name in ["20-group-writable", "30-not-executable", ".40-dot"] {
            #expect(!FileManager.default.fileExists(atPath: marker(name).path), "\(name) ran:\n\(result)")
        }
        #expect(result.stderr.contains("hook 20-group-writable (SMTP) could not run"), "\(result)")
        #expect(result.stderr.contains("writable by group or others (mode 775)"), "\(result)")
        #expect(!result.stderr.contains("30-not-executable") && !result.stderr.contains(".40-dot"), "ignored files are not reported:\n\(result)")
        try m.expectServiceFiles("SMTP", hold: cert)

        // Hooks/ writable by others: no hook runs, each is reported.
        try FileManager.default.removeItem(at: marker("10-ok"))
        chmod(m.hooks.appendingPathComponent("20-group-writable").path, 0o755)
        chmod(m.hooks.path, 0o757)
        try FileManager.default.removeItem(at: m.current("SMTP"))
        let deploy = try certstore(expecting: 0, ["deploy"] + m.args)
        #expect(!FileManager.default.fileExists(atPath: marker("10-ok").path), "\(deploy)")
        #expect(!FileManager.default.fileExists(atPath: marker("20-group-writable").path), "\(deploy)")
        #expect(deploy.stderr.contains("hook 10-ok (SMTP) could not run"), "\(deploy)")
        #expect(deploy.stderr.contains("\(m.hooks.path) is writable by group or others"), "\(deploy)")
        try m.expectServiceFiles("SMTP", hold: cert)
    }

    @Test("deploy with nothing to change runs no hook, writes nothing and says the files are in line")
    func deployNothingToDo() throws {
        let m = try Machine("svc-deploynoop")
        let cert = try m.add("mail")
        let log = m.t.path("hooks.log")
        try m.installHooks([(name: "10-log", body: Self.loggingHook("10-log", log: log), mode: 0o755)])
        try m.enable(cert, "SMTP,IMAP")
        #expect(Self.logLines(log).count == 2)
        try Data().write(to: log)

        let before = try DirectorySnapshot.take(m.t.root)
        let result = try certstore(expecting: 0, ["deploy"] + m.args)
        #expect(result.stdout == "Service files are in line with the bindings.\n", "\(result)")
        #expect(!result.stderr.contains("hook") && !result.stderr.contains("now presents"), "\(result)")
        #expect(Self.logLines(log).isEmpty)
        let after = try DirectorySnapshot.take(m.t.root)
        #expect(after == before, "\(before.differences(to: after))")

        // Removing current by hand is a change: deploy redoes it and runs the hook once, for SMTP only.
        try FileManager.default.removeItem(at: m.current("SMTP"))
        let redo = try certstore(expecting: 0, ["deploy"] + m.args)
        #expect(redo.stderr.contains("SMTP now presents \(cert.thumbprint): "), "\(redo)")
        #expect(Self.logLines(log).map { [$0[0], $0[1], $0[2], $0[3]] } == [["10-log", "SMTP", "", cert.thumbprint]])
        try m.expectServiceFiles("SMTP", hold: cert)
    }

    // MARK: - 6. service-config

    @Test("service-config: postfix, dovecot and nginx lines with the store's own paths against private configurations; postfix log level 2 with a Verbose connector; unknown daemon 64",
          .enabled(if: ServiceConfigTests.tool("postconf") != nil && ServiceConfigTests.tool("doveconf") != nil, "needs postconf and doveconf (make deps)"))
    func serviceConfig() throws {
        let m = try Machine("svc-config")
        let smtp = m.current("SMTP").path, imap = m.current("IMAP").path, iis = m.current("IIS").path
        // Private configurations, so that what this machine's daemons are configured with does not matter.
        let postfixDirectory = m.t.path("postfix").path
        try FileManager.default.createDirectory(atPath: postfixDirectory, withIntermediateDirectories: true)
        try Data("compatibility_level = 3.6\n".utf8).write(to: URL(fileURLWithPath: postfixDirectory + "/main.cf"))
        let dovecotFile = m.t.path("dovecot.conf").path, nginxFile = m.t.path("nginx.conf").path
        try Data("ssl = no\n".utf8).write(to: URL(fileURLWithPath: dovecotFile))
        try Data("server {\n  listen 443 ssl;\n  ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;\n}\n".utf8).write(to: URL(fileURLWithPath: nginxFile))

        let postfix = try certstore(expecting: 0, ["service-config", "postfix", "--config", postfixDirectory] + m.args).stdout
        #expect(postfix.contains("\nsmtpd_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem\n"), "\(postfix)")
        #expect(postfix.contains("\nsmtp_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem\n"), "\(postfix)")
        #expect(postfix.contains("\nsmtpd_tls_security_level = may\n") && postfix.contains("\nsmtp_tls_security_level = may\n"))
        #expect(postfix.contains("\nsmtp_tls_loglevel = 1\n") && postfix.contains("\nsmtpd_tls_loglevel = 1\n"), "\(postfix)")
        #expect(postfix.contains("\(m.hooks.path)"), "the header names the hook directory")
        #expect(postfix.contains("# Live configuration: `postconf -c \(postfixDirectory) -n -x`."), "\(postfix)")
        // Every non-comment line is `name = value` (postconf -e takes them as they are).
        for line in postfix.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.range(of: #"^[a-z_]+ = \S"#, options: .regularExpression) != nil, "\(line)")
        }

        try certstore(expecting: 0, ["connector", "add", "Outbound to Office 365", "--fqdn", "mail.contoso.com"] + m.args)
        try certstore(expecting: 0, ["connector", "set", "Outbound to Office 365", "--protocol-logging", "Verbose"] + m.args)
        let verbose = try certstore(expecting: 0, ["service-config", "POSTFIX", "--config-dir", postfixDirectory] + m.args).stdout
        #expect(verbose.contains("\nsmtp_tls_loglevel = 2\n") && verbose.contains("\nsmtpd_tls_loglevel = 2\n"), "\(verbose)")
        try certstore(expecting: 0, ["connector", "set", "Outbound to Office 365", "--protocol-logging", "None"] + m.args)
        #expect(try certstore(expecting: 0, ["service-config", "postfix", "--config", postfixDirectory] + m.args).stdout.contains("\nsmtp_tls_loglevel = 1\n"))

        let dovecot = try certstore(expecting: 0, ["service-config", "dovecot", "--config", dovecotFile, "--format", "json"] + m.args).stdout
        #expect(dovecot.contains("\nssl = yes\n"), "text whatever --format says: \(dovecot)")
        #expect(dovecot.contains("\nssl_cert = <\(imap)/fullchain.pem\n") && dovecot.contains("\nssl_key = <\(imap)/privkey.pem\n"), "\(dovecot)")
        let nginx = try certstore(expecting: 0, ["service-config", "nginx", "--config", nginxFile] + m.args).stdout
        #expect(nginx.contains("\nssl_certificate \(iis)/fullchain.pem;\n") && nginx.contains("\nssl_certificate_key \(iis)/privkey.pem;\n"), "\(nginx)")
        #expect(nginx.contains("# line 3 of \(nginxFile): ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem is replaced by the line below."), "\(nginx)")

        // The printed paths are the ones a daemon reads once a certificate is bound.
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP,IMAP,IIS")
        for path in ["\(smtp)/privkey.pem", "\(smtp)/fullchain.pem", "\(imap)/fullchain.pem", "\(iis)/privkey.pem"] {
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
        }

        let unknown = try certstore(expecting: 64, ["service-config", "sendmail"] + m.args)
        #expect(unknown.stdout.isEmpty && unknown.stderr.contains("unknown daemon"), "\(unknown)")
    }

    // MARK: - 7. probe

    /// `probe ADDRESS --format json` → (result, object).
    static func probeJSON(_ address: String, _ m: Machine, expecting status: Int32, _ extra: [String] = [],
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [String: Any]) {
        let result = try certstore(expecting: status, ["probe", address, "--format", "json", "--timeout", "5"] + extra + m.args,
                                   sourceLocation: sourceLocation)
        return (result, (try? parseJSONObject(result.stdout)) ?? [:])
    }

    @Test("probe https:// against openssl s_server: the served thumbprint; 0 for IIS's deployed certificate, 1 for another one")
    func probeImplicitTLS() throws {
        let m = try Machine("svc-probe")
        let bound = try m.add("web")
        let other = try m.add("other")
        let stranger = try m.pki.issue("stranger", subject: "/CN=stranger.contoso.com", dnsNames: ["stranger.contoso.com"])
        try m.enable(bound, "IIS")

        do {
            let (server, port) = try BackgroundServer.opensslServer(cert: m.file("IIS", "fullchain.pem"), key: m.file("IIS", "privkey.pem"))
            defer { server.stop() }
            let (result, json) = try Self.probeJSON("https://127.0.0.1:\(port)", m, expecting: 0)
            #expect(json["thumbprint"] as? String == bound.thumbprint, "\(result)")
            #expect(json["boundThumbprint"] as? String == bound.thumbprint)
            #expect(json["isBoundCertificate"] as? Bool == true)
            #expect(json["service"] as? String == "IIS")
            #expect(json["status"] as? String == "OK")
            #expect(json["inStore"] as? String == "LocalMachine/My")
            #expect((json["findings"] as? [Any])?.isEmpty == true, "\(result)")
            let text = try certstore(expecting: 0, ["probe", "https://127.0.0.1:\(port)"] + m.args)
            #expect(text.stdout.contains("Thumbprint  \(bound.thumbprint)") && text.stdout.contains("Bound       yes: \(bound.thumbprint)"), "\(text)")
            #expect(text.stdout.hasSuffix("OK\n"), "\(text)")
        }
        do {
            // In the store, but not what certstore deployed for IIS: the daemon was not reloaded.
            let (server, port) = try BackgroundServer.opensslServer(cert: other.pem, key: try #require(other.key))
            defer { server.stop() }
            let (result, json) = try Self.probeJSON("https://127.0.0.1:\(port)", m, expecting: 1)
            #expect(json["thumbprint"] as? String == other.thumbprint, "\(result)")
            #expect(json["isBoundCertificate"] as? Bool == false)
            #expect(json["status"] as? String == "WARNING")
            #expect((json["findings"] as? [String])?.contains { $0.contains("IIS is bound to \(bound.thumbprint), but the service presents \(other.thumbprint)") } == true, "\(result)")
        }
        do {
            // Not in the store at all.
            let (server, port) = try BackgroundServer.opensslServer(cert: stranger.pem, key: try #require(stranger.key))
            defer { server.stop() }
            let (result, json) = try Self.probeJSON("https://127.0.0.1:\(port)", m, expecting: 1)
            #expect(json["thumbprint"] as? String == stranger.thumbprint, "\(result)")
            #expect(json["inStore"] is NSNull, "\(result)")
            #expect((json["findings"] as? [String])?.contains { $0.contains("is not in LocalMachine") } == true, "\(result)")
        }
    }

    @Test("probe: a closed port is UNKNOWN (3); a malformed address and --format prometheus are usage errors (64)")
    func probeErrors() throws {
        let m = try Machine("svc-probe-errors")
        let closed = try Loopback.freePort()
        let refused = try certstore(expecting: 3, ["probe", "https://127.0.0.1:\(closed)", "--timeout", "5"] + m.args)
        #expect(refused.stderr.contains("cannot connect to 127.0.0.1:\(closed)"), "\(refused)")
        for address in ["ftp://x", "smtp://", "smtp://127.0.0.1:0", "mail.contoso.com"] {
            let result = try certstore(expecting: 64, ["probe", address] + m.args)
            #expect(result.stderr.contains("not a service address"), "\(result)")
        }
        let prometheus = try certstore(expecting: 64, ["probe", "https://127.0.0.1:\(closed)", "--format", "prometheus"] + m.args)
        #expect(prometheus.stderr.contains("prometheus"), "\(prometheus)")
    }

    @Test("probe smtp://, imap://, pop3:// (STARTTLS) and smtps:// read the certificate a python3 server presents after the plaintext dialogue",
          .enabled(if: FakeMailServer.python != nil, "needs python3"))
    func probeStartTLS() throws {
        let m = try Machine("svc-starttls")
        let intermediate = try m.pki.intermediate()
        try certstore(expecting: 0, ["import", intermediate.pem.path, "--store", "LocalMachine/CA"] + m.args)
        let mail = try m.pki.issue("mail", subject: "/CN=mail.contoso.com", by: intermediate, dnsNames: ["mail.contoso.com"])
        try m.importWithKey(mail)
        let other = try m.add("other")
        try m.enable(mail, "SMTP,IMAP,POP")
        try m.expectServiceFiles("SMTP", hold: mail, chain: [intermediate.thumbprint])
        let expiring = try m.pki.issue("expiring", subject: "/CN=mail.contoso.com", days: 20, dnsNames: ["mail.contoso.com"])
        let expiringChain = m.t.path("expiring-fullchain.pem")
        try (try Data(contentsOf: expiring.pem) + Data(contentsOf: m.pki.ca.pem)).write(to: expiringChain)

        let full = m.file("SMTP", "fullchain.pem"), key = m.file("SMTP", "privkey.pem")
        let fake = try FakeMailServer([
            .init(name: "smtp", mode: "smtp", fullchain: full, key: key),
            .init(name: "imap", mode: "imap", fullchain: full, key: key),
            .init(name: "pop3", mode: "pop3", fullchain: full, key: key),
            .init(name: "smtp-other", mode: "smtp", fullchain: other.pem, key: try #require(other.key)),
            .init(name: "smtps-expiring", mode: "tls", fullchain: expiringChain, key: try #require(expiring.key)),
        ], in: m.t.url)
        defer { fake.stop() }

        for (scheme, listener, service) in [("smtp", "smtp", "SMTP"), ("imap", "imap", "IMAP"), ("pop3", "pop3", "POP")] {
            let (result, json) = try Self.probeJSON("\(scheme)://127.0.0.1:\(try fake.port(listener))", m, expecting: 0)
            #expect(json["thumbprint"] as? String == mail.thumbprint, "\(result)")
            #expect(json["service"] as? String == service)
            #expect(json["isBoundCertificate"] as? Bool == true, "\(result)")
            #expect(json["chain"] as? [String] == [mail.thumbprint, intermediate.thumbprint], "the chain as sent: \(result)")
        }
        let smtpLines = fake.lines("smtp", atLeast: 3)
        #expect(smtpLines.count == 3 && smtpLines[0].hasPrefix("EHLO ") && smtpLines[1] == "STARTTLS" && smtpLines[2].hasPrefix("TLS TLSv1."),
                "the SMTP dialogue: \(smtpLines)")
        #expect(fake.lines("imap").first == "a1 STARTTLS", "\(fake.lines("imap"))")
        #expect(fake.lines("pop3").first == "STLS", "\(fake.lines("pop3"))")

        // Another certificate behind STARTTLS: WARNING, and the served one is named.
        let (otherResult, otherJSON) = try Self.probeJSON("smtp://127.0.0.1:\(try fake.port("smtp-other"))", m, expecting: 1)
        #expect(otherJSON["thumbprint"] as? String == other.thumbprint, "\(otherResult)")
        #expect(otherJSON["boundThumbprint"] as? String == mail.thumbprint)

        // Implicit TLS (smtps://) serving a certificate that expires in 20 days: CRITICAL.
        let (expResult, expJSON) = try Self.probeJSON("smtps://127.0.0.1:\(try fake.port("smtps-expiring"))", m, expecting: 2)
        #expect(expJSON["thumbprint"] as? String == expiring.thumbprint, "\(expResult)")
        #expect((expJSON["findings"] as? [String])?.contains { $0.contains("expires in") } == true, "\(expResult)")
    }

    @Test("probe: no STARTTLS offered, STARTTLS/STLS refused, or no greeting within --timeout is CRITICAL (2) with a clear message",
          .enabled(if: FakeMailServer.python != nil, "needs python3"))
    func probeStartTLSFailures() throws {
        let m = try Machine("svc-starttls-fail")
        let cert = try m.add("mail")
        let full = cert.pem
        let key = try #require(cert.key)
        let fake = try FakeMailServer([
            .init(name: "plain", mode: "smtp-nostarttls", fullchain: full, key: key),
            .init(name: "imap-no", mode: "imap-refuse", fullchain: full, key: key),
            .init(name: "pop3-no", mode: "pop3-refuse", fullchain: full, key: key),
            .init(name: "silent", mode: "silent", fullchain: full, key: key),
        ], in: m.t.url)
        defer { fake.stop() }

        let plain = try certstore(expecting: 2, ["probe", "smtp://127.0.0.1:\(try fake.port("plain"))", "--timeout", "5"] + m.args)
        #expect(plain.stderr.contains("the SMTP server does not offer STARTTLS"), "\(plain)")
        #expect(fake.lines("plain").first?.hasPrefix("EHLO ") == true, "\(fake.lines("plain"))")
        #expect(!fake.lines("plain").contains("STARTTLS"), "STARTTLS must not be sent when it is not offered")

        let imap = try certstore(expecting: 2, ["probe", "imap://127.0.0.1:\(try fake.port("imap-no"))", "--timeout", "5"] + m.args)
        #expect(imap.stderr.contains("refused STARTTLS"), "\(imap)")
        let pop = try certstore(expecting: 2, ["probe", "pop3://127.0.0.1:\(try fake.port("pop3-no"))", "--timeout", "5"] + m.args)
        #expect(pop.stderr.contains("refused STLS"), "\(pop)")

        let start = Date()
        let silent = try certstore(expecting: 2, ["probe", "smtp://127.0.0.1:\(try fake.port("silent"))", "--timeout", "1"] + m.args)
        #expect(silent.stderr.contains("timed out"), "\(silent)")
        #expect(Date().timeIntervalSince(start) < 8, "--timeout 1 took \(Date().timeIntervalSince(start)) s")
    }
}
