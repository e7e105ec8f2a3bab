import Foundation
import Testing

/// "One operation, one transaction": every mutating command is one library call under one lock whose
/// consequences (service files, connectors, hooks) follow only from a committed change, and no operation
/// destroys the last copy of a private key.
@Suite("operations: one transaction, consequences, key copies")
struct OperationTests {
    typealias Machine = ServicesTests.Machine

    /// The store's key file of a certificate (named by the SHA-256 of its public key).
    static func storeKey(_ m: Machine, _ cert: TestPKI.Cert) throws -> URL {
        m.location.appendingPathComponent("Keys").appendingPathComponent(try m.pki.keyFileName(try #require(cert.key)))
    }

    /// Runs a suggested command as an admin would paste it: through /bin/sh, with certstore on the PATH.
    static func paste(_ command: String) throws -> CommandResult {
        let binary = try CertStoreCLI.requireBinary()
        let path = binary.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", command], environment: ["PATH": path])
    }

    /// Runs an audit's remediation plan step by step; every step must succeed. Returns the audit after it.
    static func followPlan(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> (plan: [String], after: [String: Any]) {
        let report = try parseJSONObject(try certstore(["audit", "--format", "json"] + args).stdout)
        let plan = report["remediationPlan"] as? [String] ?? []
        for step in plan {
            for placeholder in ["THUMBPRINT", "PASSWORD_FILE", "KEY.pem", "KEYFILE", "RENEWED", "CERTIFICATE.pem", "ISSUER", " DIR", "("] {
                #expect(!step.contains(placeholder), "placeholder \(placeholder) in \(step)", sourceLocation: sourceLocation)
            }
            let result = try paste(step)
            #expect(result.status == 0, "step \(step) of \(plan) failed: \(result)", sourceLocation: sourceLocation)
        }
        #expect(Set(plan).count == plan.count, "no step twice: \(plan)", sourceLocation: sourceLocation)
        return (plan, try parseJSONObject(try certstore(["audit", "--format", "json"] + args).stdout))
    }

    @Test("the store's key file is gone: an unrelated enable keeps SMTP's files (the last copy of the key), audit names the file and the import that brings it back, and that import works")
    func lastKeyCopyIsKept() throws {
        let m = try Machine("op-keycopy")
        let a = try m.add("mail-a")
        let b = try m.add("web-b")
        try m.enable(a, "SMTP")
        try m.expectServiceFiles("SMTP", hold: a)
        let liveKey = m.file("SMTP", "privkey.pem").resolvingSymlinksInPath()
        let keyBytes = try Data(contentsOf: liveKey)

        // The store loses the key (deleted by hand, a bad restore, ...).
        try FileManager.default.removeItem(at: try Self.storeKey(m, a))
        let enabled = try m.enable(b, "IIS")
        #expect(m.deployed("SMTP") == a.thumbprint, "SMTP's files must stay: \(enabled)")
        #expect(try Data(contentsOf: m.file("SMTP", "privkey.pem")) == keyBytes, "the only copy of the key must survive")
        #expect(!enabled.stderr.contains("SMTP now presents"), "\(enabled)")

        // A refused remove changes nothing either.
        let before = try DirectorySnapshot.take(m.location.appendingPathComponent("Services"))
        try certstore(expecting: 2, ["remove", a.thumbprint] + m.args)
        #expect(try DirectorySnapshot.take(m.location.appendingPathComponent("Services")) == before)

        let (audit, findings) = try m.audit()
        #expect(audit.status == 2, "\(audit)")
        let copy = try #require(findings.first { $0["check"] as? String == "service-key-only-copy" }, "\(findings)")
        #expect(copy["severity"] as? String == "CRITICAL")
        let fix = try #require((copy["fix"] as? [String])?.first)
        #expect(fix == "certstore --root \(m.t.rootPath) import \(liveKey.path)", "\(fix)")

        // Following the fix literally gives the store its key back; SMTP is then in line, nothing to keep.
        let imported = try Self.paste(fix)
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.stdout.contains("KeyAdded"), "\(imported)")
        #expect(FileManager.default.fileExists(atPath: try Self.storeKey(m, a).path))
        let (_, after) = try m.audit()
        #expect(!after.contains { $0["check"] as? String == "service-key-only-copy" }, "\(after)")
    }

    @Test("unbinding a certificate whose store key is gone withdraws the link but keeps the version that holds the only key copy")
    func withdrawKeepsOnlyCopy() throws {
        let m = try Machine("op-withdraw-copy")
        let a = try m.add("mail-a")
        try m.enable(a, "POP")
        let version = try #require(m.linkTarget("POP"))
        try FileManager.default.removeItem(at: try Self.storeKey(m, a))
        try certstore(expecting: 0, ["disable", a.thumbprint] + m.args)
        #expect(m.linkTarget("POP") == nil, "nothing is bound: the daemon's link goes")
        #expect(m.versions("POP") == [version], "the version holding the only copy of the key stays")
        let (_, findings) = try m.audit()
        #expect(findings.contains { $0["check"] as? String == "service-key-only-copy" && ($0["fix"] as? [String])?.first?.hasSuffix("\(version)/privkey.pem") == true },
                "\(findings)")
    }

    @Test("a refused remove and a busy remove rewrite no service file and run no hook; busy says so once (exit 75)")
    func refusedAndBusyRunNothing() throws {
        let m = try Machine("op-refused")
        let a = try m.add("mail-a")
        try m.enable(a, "SMTP")
        let log = m.t.path("hooks.log")
        try m.installHooks([(name: "10-log", body: ServicesTests.loggingHook("10-log", log: log), mode: 0o755)])
        // Drift a service file by hand: any operation that ran its consequences would redeploy.
        chmod(m.file("SMTP", "privkey.pem").path, 0o640)
        let before = try DirectorySnapshot.take(m.location.appendingPathComponent("Services"))

        let refused = try certstore(expecting: 2, ["remove", a.thumbprint] + m.args)
        #expect(!refused.stderr.contains("now presents"), "\(refused)")
        #expect(try DirectorySnapshot.take(m.location.appendingPathComponent("Services")) == before)
        #expect(!FileManager.default.fileExists(atPath: log.path), "a refused operation runs no hook")

        // Another writer holds the lock.
        let fd = open(m.location.appendingPathComponent(".lock").path, O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0)
        let busy = try certstore(expecting: 75, ["remove", a.thumbprint, "--force", "--lock-timeout", "0.3"] + m.args)
        #expect(busy.stderr.components(separatedBy: "store is busy").count == 2, "said once: \(busy)")
        let disable = try certstore(expecting: 75, ["disable", a.thumbprint, "--lock-timeout", "0.3"] + m.args)
        #expect(disable.stderr.components(separatedBy: "store is busy").count == 2, "\(disable)")
        flock(fd, LOCK_UN)
        #expect(try DirectorySnapshot.take(m.location.appendingPathComponent("Services")) == before)
        #expect(!FileManager.default.fileExists(atPath: log.path), "a busy operation runs no hook")

        // The next operation that commits brings the drifted key file back in line, and the hook runs.
        let deployed = try certstore(expecting: 0, ["deploy"] + m.args)
        #expect(deployed.stderr.contains("SMTP now presents \(a.thumbprint) (was \(a.thumbprint)) [privkey.pem owner or mode]"), "\(deployed)")
        #expect(ServicesTests.logLines(log).count == 1)
    }

    @Test("an intermediate imported after enable brings chain.pem and fullchain.pem a new version and runs the hooks; then deploy finds all in line")
    func chainImportedLater() throws {
        let t = try TestDirectory("op-chain")
        let pki = try TestPKI(in: t.path("pki"), caSubject: "/C=US/O=Woodgrove/CN=Woodgrove Root CA")
        let dir = pki.directory
        let made = try pki.intermediateAndLeaf(host: "mail.woodgrove.com", organization: "Woodgrove")
        let withKey = made.leafWithKey
        let leaf = try Fixtures.thumbprint(made.leaf, in: dir)
        let intermediate = try Fixtures.thumbprint(made.intermediate, in: dir)
        let args = t.rootArgs
        let location = t.root.appendingPathComponent("LocalMachine")
        let current = location.appendingPathComponent("Services/SMTP/current")

        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + args)
        try certstore(expecting: 0, ["import", withKey.path] + args)
        try certstore(expecting: 0, ["enable", leaf, "--services", "SMTP"] + args)
        #expect(try Data(contentsOf: current.appendingPathComponent("chain.pem")).isEmpty, "the intermediate is nowhere yet")
        let log = t.path("hooks.log")
        let hooks = location.appendingPathComponent("Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        chmod(hooks.path, 0o755)
        try Data("#!/bin/sh\necho \"$CERTSTORE_SERVICE $CERTSTORE_NEW_THUMBPRINT\" >> '\(log.path)'\n".utf8).write(to: hooks.appendingPathComponent("10-log"))
        chmod(hooks.appendingPathComponent("10-log").path, 0o755)

        let imported = try certstore(expecting: 0, ["import", made.intermediate.path] + args)
        #expect(imported.stderr.contains("SMTP now presents \(leaf) (was \(leaf)) [chain.pem, fullchain.pem]"), "\(imported)")
        #expect(try PEMInspection.thumbprints(current.appendingPathComponent("chain.pem"), scratch: t.url) == [intermediate])
        #expect((try? String(contentsOf: log, encoding: .utf8)) == "SMTP \(leaf)\n")
        let deploy = try certstore(expecting: 0, ["deploy"] + args)
        #expect(!deploy.stderr.contains("now presents"), "\(deploy)")
        let audit = try certstore(["audit", "--format", "json"] + args)
        #expect(!auditFindings(try parseJSONObject(audit.stdout)).contains { $0["check"] as? String == "service-files-stale" }, "\(audit)")
    }

    @Test("a hook whose exit status cannot be collected (certstore started with SIGCHLD ignored) is reported as failed, never ok")
    func hookStatusUnknown() throws {
        let m = try Machine("op-echild")
        let a = try m.add("mail-a")
        try m.installHooks([(name: "10-fails", body: "exit 3", mode: 0o755)])
        let binary = try CertStoreCLI.requireBinary().path
        // An ignored SIGCHLD is inherited through exec: the kernel then reaps children itself and waitpid fails.
        let script = "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
        let result = try runProgram(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script, binary, "enable", a.thumbprint, "--services", "SMTP"] + m.args)
        #expect(result.status == 0, "\(result)")
        #expect(!result.stderr.contains("hook 10-fails (SMTP): ok"), "\(result)")
        #expect(result.stderr.contains("hook 10-fails (SMTP) exit status unknown"), "\(result)")
        #expect(result.stderr.contains("waitpid"), "\(result)")
    }

    @Test("remediation plans work pasted as they are: the KB machine, a keyless default bound to SMTP and IIS with its renewal present, an expiring IIS/POP certificate with its renewal present")
    func plansWorkWhenPasted() throws {
        // The KB machine with the renewed twin imported: the connector's keyless certificate goes, the twin serves SMTP.
        let kb = try KBMachine.build("op-plan-kb")
        try kb.importTwin()
        let (kbPlan, kbAfter) = try Self.followPlan(kb.args)
        #expect(kbPlan.contains("certstore --root \(kb.t.rootPath) remove \(kb.keyless.thumbprint)"), "\(kbPlan)")
        #expect((kbAfter["connectors"] as? [[String: Any]])?.first?["thumbprint"] as? String == kb.twin.thumbprint, "\(kbAfter)")
        #expect(kbAfter["status"] as? String != "CRITICAL", "\(auditFindings(kbAfter))")

        // The default SMTP certificate (also IIS) lost its key; its renewal is in the store, unbound.
        let m = try Machine("op-plan-default")
        let old = try m.add("mail-old", notBeforeDaysAgo: 30)
        let renewed = try m.add("mail-new")
        try m.enable(old, "SMTP,IIS")
        try FileManager.default.removeItem(at: try Self.storeKey(m, old))
        let (plan, after) = try Self.followPlan(m.args)
        // The renewal takes over in one handover (bindings, the default SMTP role; the keyless one is archived).
        #expect(plan.contains("certstore --root \(m.t.rootPath) handover \(old.thumbprint) \(renewed.thumbprint)"), "\(plan)")
        #expect(!plan.contains { $0.contains("--keep-default") }, "never keep a keyless default: \(plan)")
        #expect(after["status"] as? String == "OK", "\(auditFindings(after))")
        #expect(m.deployed("SMTP") == renewed.thumbprint && m.deployed("IIS") == renewed.thumbprint)

        // A certificate bound to IIS and POP expires in 20 days; its renewal is in the store: the plan hands over
        // to the renewal, which takes IIS and POP (not SMTP).
        let e = try Machine("op-plan-expiring")
        let expiring = try e.add("web-old", days: 20)
        let next = try e.add("web-new")
        try e.enable(expiring, "IIS,POP")
        let (ePlan, eAfter) = try Self.followPlan(e.args)
        #expect(ePlan == ["certstore --root \(e.t.rootPath) handover \(expiring.thumbprint) \(next.thumbprint)"], "\(ePlan)")
        #expect(!ePlan.contains { $0.contains("SMTP") }, "\(ePlan)")
        #expect(e.deployed("IIS") == next.thumbprint && e.deployed("POP") == next.thumbprint)
        #expect(!auditFindings(eAfter).contains { $0["check"] as? String == "certificate-expiring" }, "\(auditFindings(eAfter))")
    }

    @Test("one verdict: resolve and audit agree on UnknownCredentials (exit 2, CRITICAL); enable, disable and restore each say what they changed for the connector")
    func connectorVerdictsAgree() throws {
        let m = try KBMachine.build("op-verdict")
        try m.importTwin()
        let removed = try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        #expect(removed.stderr.contains("send connector \"\(KBMachine.connector)\" now resolves to \(m.twin.thumbprint), which is not enabled for SMTP"), "\(removed)")
        let trash = try #require(trashID(in: removed.stdout), "\(removed)")

        // The twin has a key but is not enabled for SMTP: both say UnknownCredentials, both fail.
        let resolved = try certstore(expecting: 2, ["connector", "resolve", KBMachine.connector, "--format", "json"] + m.args)
        let json = try parseJSONObject(resolved.stdout)
        #expect(json["verdict"] as? String == "UnknownCredentials" && json["usable"] as? Bool == false, "\(json)")
        let audit = try certstore(["audit", "--format", "json"] + m.args)
        let report = try parseJSONObject(audit.stdout)
        #expect(audit.status == 2)
        #expect(auditFindings(report).contains { $0["check"] as? String == "connector-certificate-not-smtp" && $0["severity"] as? String == "CRITICAL" })
        #expect((report["connectors"] as? [[String: Any]])?.first?["usable"] as? Bool == false)

        let enabled = try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        #expect(enabled.stderr.contains("send connector \"\(KBMachine.connector)\" now presents \(m.twin.thumbprint)"), "\(enabled)")
        try certstore(expecting: 0, ["connector", "resolve", KBMachine.connector] + m.args)

        let disabled = try certstore(expecting: 0, ["disable", m.twin.thumbprint, "--services", "SMTP"] + m.args)
        #expect(disabled.stderr.contains("UnknownCredentials"), "disable says what it did to the connector: \(disabled)")
        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)

        // Restoring the keyless certificate brings the trap back: restore says so.
        let restored = try certstore(expecting: 0, ["restore", trash] + m.args)
        #expect(restored.stderr.contains("now resolves to \(m.keyless.thumbprint), which has no usable private key"), "\(restored)")
        #expect(restored.stderr.contains("NoCredentials"), "\(restored)")
        let trap = try certstore(expecting: 2, ["connector", "resolve", KBMachine.connector, "--format", "json"] + m.args)
        #expect(try parseJSONObject(trap.stdout)["verdict"] as? String == "NoCredentials")
    }

    @Test("a misspelt --root is an error (66) naming the root and how it was chosen, for readers and for writers that need a store; import says it creates one")
    func missingRoot() throws {
        let t = try TestDirectory("op-noroot")
        let wrong = t.path("rooot").path
        for command in [["list"], ["bindings"], ["trash", "list"], ["deploy"], ["connector", "list"], ["show", String(repeating: "A", count: 40)],
                        ["enable", String(repeating: "A", count: 40), "--services", "SMTP"]] {
            let result = try certstore(expecting: 66, command + ["--root", wrong])
            #expect(result.stderr.contains("there is no store at \(wrong)/LocalMachine") && result.stderr.contains("chosen by --root"), "\(command): \(result)")
        }
        let fromEnv = try certstore(expecting: 66, ["list"], environment: ["CERTSTORE_ROOT": wrong])
        #expect(fromEnv.stderr.contains("chosen by $CERTSTORE_ROOT"), "\(fromEnv)")
        #expect(!FileManager.default.fileExists(atPath: wrong), "nothing was created")
        // audit and check answer UNKNOWN (3), as monitoring plugins do.
        try certstore(expecting: 3, ["audit", "--root", wrong])
        try certstore(expecting: 3, ["check", "--root", wrong])

        let pki = try TestPKI(in: t.path("pki"))
        let created = try certstore(expecting: 0, ["import", pki.ca.pem.path, "--root", wrong])
        #expect(created.stderr.contains("creating a new store at \(wrong)/LocalMachine (root chosen by --root)"), "\(created)")
        let again = try certstore(expecting: 0, ["list", "--root", wrong])
        #expect(!again.stderr.contains("creating"), "\(again)")
    }

    /// `count` certificates, each with its key in one PEM file, made with pyca/cryptography (fast enough for thousands).
    static func manyCredentials(_ count: Int, in directory: URL) throws {
        let script = """
            import sys, datetime
            from cryptography import x509
            from cryptography.x509.oid import NameOID
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            out, count = sys.argv[1], int(sys.argv[2])
            now = datetime.datetime(2026, 1, 1)
            for i in range(count):
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"host{i}.contoso.com")])
                cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                        .serial_number(i + 1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                        .sign(key, hashes.SHA256()))
                with open(f"{out}/c{i:05d}.pem", "wb") as f:
                    f.write(cert.public_bytes(serialization.Encoding.PEM))
                    f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            """
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = try runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, directory.path, String(count)], timeout: 120)
        try #require(made.status == 0, "\(made)")
    }

    /// Every temporary file (`.NAME.tmp-…`) below `directory`.
    static func temporaryFiles(below directory: URL) -> [String] {
        (FileManager.default.enumerator(atPath: directory.path)?.allObjects as? [String] ?? [])
            .filter { ($0 as NSString).lastPathComponent.contains(".tmp-") }
    }

    @Test("SIGINT or SIGTERM during a bulk import: every staged file (keys among them) is removed, it says nothing was imported (exit 130), or, when the signal came during the commit, that all was; audit reports debris as one finding")
    func interruptedImport() throws {
        let t = try TestDirectory("op-interrupt")
        let input = t.path("many")
        try Self.manyCredentials(1500, in: input)
        let pki = try TestPKI(in: t.path("pki"))
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs)
        let keys = t.root.appendingPathComponent("LocalMachine/Keys")
        for (signal, delay) in [(SIGINT, 0.4), (SIGTERM, 0.8)] {
            let running = try CertStoreCLI.start(["import", input.path] + t.rootArgs)
            usleep(useconds_t(delay * 1_000_000))
            kill(running.processIdentifier, signal)
            let result = running.wait(timeout: 120)
            #expect(Self.temporaryFiles(below: t.root).isEmpty, "signal \(signal): temporary files left: \(Self.temporaryFiles(below: t.root).prefix(5))")
            let imported = t.thumbprints(in: "My").count
            if result.status == 130 {
                #expect(result.stderr.contains("nothing was imported; the store is unchanged"), "\(result)")
                #expect(imported == 0, "\(imported) certificates after an interrupted import")
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: keys.path)) ?? []).isEmpty, "no key may stay")
            } else {
                // The signal came too late to stop it (reading and staging were done): everything is there, and said so.
                #expect(result.status == 0, "\(result)")
                #expect(imported == 1500, "\(result)")
                try FileManager.default.removeItem(at: t.root.appendingPathComponent("LocalMachine/My"))
                try FileManager.default.removeItem(at: keys)
            }
        }

        // Debris a killed writer leaves (kill -9 cannot be handled) is one audit finding, not one per file.
        let my = t.root.appendingPathComponent("LocalMachine/Root")
        for index in 0..<40 { try Data("x".utf8).write(to: my.appendingPathComponent(".X\(index).cer.tmp-1-\(index)")) }
        let report = try parseJSONObject(try certstore(["audit", "--format", "json"] + t.rootArgs).stdout)
        let debris = auditFindings(report).filter { $0["check"] as? String == "leftover-temporary-file" }
        #expect(debris.count == 1 && (debris.first?["title"] as? String)?.hasPrefix("40 temporary files") == true, "\(debris)")
    }

    @Test("trash empty keeps an entry holding the last copy of a private key (remove --delete-key) unless --including-keys; restore brings the key back")
    func trashEmptyKeepsLastKeyCopy() throws {
        let m = try Machine("op-trash-key")
        let a = try m.add("mail-a")
        let b = try m.add("web-b")
        let withKey = try certstore(expecting: 0, ["remove", a.thumbprint, "--delete-key"] + m.args)
        let keyID = try #require(trashID(in: withKey.stdout), "\(withKey)")
        try certstore(expecting: 0, ["remove", b.thumbprint] + m.args)
        #expect(!FileManager.default.fileExists(atPath: try Self.storeKey(m, a).path), "the key went to the trash")

        let emptied = try certstore(expecting: 0, ["trash", "empty", "--all"] + m.args)
        #expect(emptied.stdout.contains("Deleted 1 trash entry for good."), "\(emptied)")
        #expect(emptied.stdout.contains("Kept 1 that holds the last copy of a private key: \(keyID)"), "\(emptied)")
        let listed = try parseJSONArray(try certstore(expecting: 0, ["trash", "list", "--format", "json"] + m.args).stdout)
        #expect(listed.map { $0["id"] as? String } == [keyID], "\(listed)")

        try certstore(expecting: 0, ["restore", keyID] + m.args)
        #expect(FileManager.default.fileExists(atPath: try Self.storeKey(m, a).path), "restore brings the key back")
        let again = try certstore(expecting: 0, ["remove", a.thumbprint, "--delete-key"] + m.args)
        _ = again
        let all = try certstore(expecting: 0, ["trash", "empty", "--all", "--including-keys"] + m.args)
        #expect(all.stdout.contains("Deleted 1 trash entry for good.") && !all.stdout.contains("Kept"), "\(all)")
    }
}
