import Foundation
import Testing

/// Microsoft KB 4495258 end to end, on a machine built from scratch with openssl (see `KBMachine`):
/// the trap, the refusals, the fix, and the undo.
@Suite("KB 4495258 machine")
struct KBMachineTests {
    @Test("the trap: the connector resolves to the keyless certificate; resolve exits 2 naming it and NoCredentials; audit is CRITICAL")
    func trap() throws {
        let m = try KBMachine.build("kb-trap")

        let listed = try certstore(expecting: 0, ["list", "--thumbprint", m.keyless.thumbprint, "--property", "thumbprint,hasprivatekey"] + m.args)
        #expect(tableLines(listed.stdout).first { $0.hasPrefix(m.keyless.thumbprint) }.map(words) == [m.keyless.thumbprint, "False"], "\(listed)")

        let text = try certstore(expecting: 2, ["connector", "resolve", KBMachine.connector] + m.args)
        #expect(text.stdout.contains("Chosen: \(m.keyless.thumbprint) (HasPrivateKey: False)"), "\(text)")
        #expect(text.stdout.contains("TLS negotiation failed with error NoCredentials"), "\(text)")
        #expect(text.stdout.contains("KB 4495258"), "\(text)")

        let (_, json) = try m.resolve(expecting: 2)
        let chosen = json["chosen"] as? [String: Any]
        #expect(chosen?["thumbprint"] as? String == m.keyless.thumbprint, "\(json)")
        #expect(chosen?["hasPrivateKey"] as? Bool == false)
        #expect(chosen?["subject"] as? String == TestPKI.mailName)
        #expect(chosen?["issuer"] as? String == TestPKI.caName)
        #expect(json["usable"] as? Bool == false)
        #expect(json["status"] as? String == "TlsCertificateMatch")
        #expect(json["method"] as? String == "TlsCertificateName")
        #expect(json["tlsCertificateName"] as? String == m.tlsCertificateName)

        let human = try certstore(expecting: 2, ["audit"] + m.args)
        let critical = human.stdout.split(separator: "\n").first { $0.hasPrefix("CRITICAL") && $0.contains("NoCredentials (KB 4495258)") }
        #expect(critical?.contains("send connector \"\(KBMachine.connector)\"") == true, "\(human)")
        #expect(human.stdout.contains("import the renewed certificate with its key"), "no keyed twin yet: it says what to bring: \(human)")

        let (result, report) = try m.audit()
        #expect(result.status == 2, "\(result)")
        #expect(report["status"] as? String == "CRITICAL")
        #expect(report["exitCode"] as? Int == 2)
        let finding = auditFindings(report).first { $0["check"] as? String == "connector-keyless-certificate" }
        #expect(finding?["severity"] as? String == "CRITICAL", "\(report)")
        #expect((finding?["title"] as? String)?.contains("NoCredentials (KB 4495258)") == true)
        #expect((finding?["detail"] as? String)?.contains(m.keyless.thumbprint) == true)
        #expect(finding?["object"] as? String == "connector:\(KBMachine.connector)")
    }

    @Test("--from-certificate THUMB writes the same <I>issuer<S>subject an admin types, and resolves the same way")
    func fromCertificate() throws {
        let m = try KBMachine.build("kb-fromcert", connector: .fromCertificate)
        let list = try parseJSONArray(try certstore(expecting: 0, ["connector", "list", "--format", "json"] + m.args).stdout)
        #expect(list.count == 1)
        #expect(list.first?["name"] as? String == KBMachine.connector)
        #expect(list.first?["tlsCertificateName"] as? String == m.tlsCertificateName, "\(list)")
        #expect(list.first?["certificate"] as? String == m.keyless.thumbprint)
        #expect(list.first?["hasPrivateKey"] as? Bool == false)
        let (_, json) = try m.resolve(expecting: 2)
        #expect((json["chosen"] as? [String: Any])?["thumbprint"] as? String == m.keyless.thumbprint, "\(json)")
    }

    @Test("enable of the keyless certificate is refused (exit 2) with Exchange's words, reason PrivateKeyMissing; nothing changes")
    func enableKeylessRefused() throws {
        let m = try KBMachine.build("kb-enable-keyless")
        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["enable", m.keyless.thumbprint, "--services", "SMTP"] + m.args)
        let message = "The certificate with thumbprint \(m.keyless.thumbprint) was found but is not valid for use with Exchange Server (reason: PrivateKeyMissing)."
        #expect(refused.stderr.split(separator: "\n").contains { $0 == "error: \(message)" }, "\(refused)")
        try m.expectUnchanged(before)
        #expect(try m.smtpThumbprints() == [m.exch01.thumbprint])
    }

    @Test("remove of the keyless certificate while no renewed twin exists is refused (exit 2), naming the connector; nothing changes")
    func removeWithoutTwinRefused() throws {
        let m = try KBMachine.build("kb-remove-notwin")
        let before = try m.snapshot()
        let refused = try certstore(expecting: 2, ["remove", m.keyless.thumbprint] + m.args)
        #expect(refused.stderr.contains("send connector \"\(KBMachine.connector)\""), "\(refused)")
        #expect(refused.stderr.contains("resolve to no certificate at all"), "\(refused)")
        #expect(refused.stderr.contains("--force"), "the hint names the override: \(refused)")
        try m.expectUnchanged(before)

        let dry = try certstore(expecting: 2, ["remove", m.keyless.thumbprint, "--dry-run"] + m.args)
        #expect(dry.stdout.contains("Would refuse to remove \(m.keyless.thumbprint)"), "\(dry)")
        #expect(dry.stdout.contains("send connector \"\(KBMachine.connector)\""), "\(dry)")
        try m.expectUnchanged(before)
    }

    @Test("store order is import order: keyless first → the connector picks it (exit 2); twin first → the twin (exit 1: keyless twin)")
    func storeOrderDecides() throws {
        let late = try KBMachine.build("kb-order-late")
        try late.importTwin()
        let (_, lateJSON) = try late.resolve(expecting: 2)
        #expect((lateJSON["chosen"] as? [String: Any])?["thumbprint"] as? String == late.keyless.thumbprint, "\(lateJSON)")
        let steps = lateJSON["steps"] as? [[String: Any]] ?? []
        #expect(steps.map { $0["thumbprint"] as? String } == [late.keyless.thumbprint, late.twin.thumbprint], "\(lateJSON)")
        #expect(steps.map { $0["accepted"] as? Bool } == [true, false])
        #expect(Set((lateJSON["twins"] as? [[String: Any]] ?? []).compactMap { $0["thumbprint"] as? String })
                == [late.keyless.thumbprint, late.twin.thumbprint])
        #expect(lateJSON["keylessTwin"] as? Bool == true)

        let early = try KBMachine.build("kb-order-early", twinFirst: true)
        // The twin has a key but is not enabled for SMTP: UnknownCredentials, the one verdict audit gives too.
        let (_, earlyJSON) = try early.resolve(expecting: 2)
        #expect((earlyJSON["chosen"] as? [String: Any])?["thumbprint"] as? String == early.twin.thumbprint, "\(earlyJSON)")
        #expect(earlyJSON["verdict"] as? String == "UnknownCredentials", "\(earlyJSON)")
        #expect(earlyJSON["keylessTwin"] as? Bool == true)
        let (_, report) = try early.audit()
        #expect(auditFindings(report).contains { $0["check"] as? String == "connector-keyless-twin" && $0["severity"] as? String == "WARNING" },
                "\(report)")
        #expect(!auditFindings(report).contains { $0["check"] as? String == "connector-keyless-certificate" })
    }

    @Test("the fix: twin imported later, remove --dry-run changes nothing, remove goes to the trash, the connector uses the twin, enable answering N keeps EXCH01, audit has no CRITICAL")
    func theFix() throws {
        let m = try KBMachine.build("kb-fix")
        try m.importTwin()

        // Before: still the trap (the keyless certificate comes first in store order).
        let (_, trapped) = try m.resolve(expecting: 2)
        #expect((trapped["chosen"] as? [String: Any])?["thumbprint"] as? String == m.keyless.thumbprint)

        let bindingsBefore = try #require(fileBytes(m.bindingsFile))
        let before = try m.snapshot()
        let dry = try certstore(expecting: 0, ["remove", m.keyless.thumbprint, "--dry-run"] + m.args)
        #expect(dry.stdout.contains("Would remove \(m.keyless.thumbprint)"), "\(dry)")
        #expect(dry.stdout.contains("send connector \"\(KBMachine.connector)\" uses \(m.twin.thumbprint) ("), "\(dry)")
        #expect(dry.stdout.contains("from now on"), "\(dry)")
        #expect(dry.stdout.contains("Nothing was changed (--dry-run)."), "\(dry)")
        try m.expectUnchanged(before)

        let removed = try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        #expect(removed.stdout.contains("Removed \(m.keyless.thumbprint)"), "\(removed)")
        #expect(removed.stdout.contains("uses \(m.twin.thumbprint)"), "\(removed)")
        let id = try #require(trashID(in: removed.stdout), "no trash ID in: \(removed)")
        #expect(id.contains(String(m.keyless.thumbprint.prefix(8))), "\(id)")
        #expect(!FileManager.default.fileExists(atPath: m.cerFile(m.keyless.thumbprint).path))
        #expect(fileBytes(m.bindingsFile) == bindingsBefore, "remove must not touch bindings.json")

        // The twin is chosen now; until it is enabled for SMTP the verdict is UnknownCredentials (exit 2).
        let (afterResult, after) = try m.resolve()
        #expect(afterResult.status == 2, "\(afterResult)")
        #expect((after["chosen"] as? [String: Any])?["thumbprint"] as? String == m.twin.thumbprint, "\(after)")
        #expect(after["verdict"] as? String == "UnknownCredentials", "\(after)")

        // Bind SMTP to the twin and answer No to Exchange's question, as the KB says.
        let enabled = try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP"] + m.args, stdin: .text("N\n"))
        #expect(enabled.stderr.contains("Overwrite the existing default SMTP certificate?"), "\(enabled)")
        #expect(enabled.stderr.contains("Current certificate: '\(m.exch01.thumbprint)'"), "\(enabled)")
        #expect(enabled.stderr.contains("Replace it with certificate: '\(m.twin.thumbprint)'"), "\(enabled)")
        #expect(enabled.stdout.contains("Default SMTP certificate: \(m.exch01.thumbprint) (unchanged)"), "\(enabled)")
        #expect(try m.defaultSmtpCertificate() == m.exch01.thumbprint)
        #expect(try m.smtpThumbprints() == [m.exch01.thumbprint, m.twin.thumbprint])

        let (auditResult, report) = try m.audit()
        #expect([0, 1].contains(auditResult.status), "\(auditResult)")
        #expect(report["exitCode"] as? Int == Int(auditResult.status))
        let critical = auditFindings(report).filter { $0["severity"] as? String == "CRITICAL" }
        #expect(critical.isEmpty, "no CRITICAL finding after the fix: \(critical)")
        let text = try certstore(["audit"] + m.args)
        #expect(text.status == auditResult.status, "\(text)")
        #expect(!text.stdout.contains("CRITICAL"), "\(text)")
    }

    @Test("answering Y (on a fresh machine) makes the twin the default SMTP certificate")
    func answerYes() throws {
        let m = try KBMachine.build("kb-yes")
        try m.importTwin()
        let enabled = try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP"] + m.args, stdin: .text("Y\n"))
        #expect(enabled.stdout.contains("Default SMTP certificate: \(m.twin.thumbprint) (was \(m.exch01.thumbprint))"), "\(enabled)")
        #expect(try m.defaultSmtpCertificate() == m.twin.thumbprint)
        #expect(try m.smtpThumbprints() == [m.exch01.thumbprint, m.twin.thumbprint])
    }

    @Test("no answer to the question (stdin /dev/null, an empty line or a word that is not an answer, piped): exit 64, nothing changes")
    func noAnswer() throws {
        let m = try KBMachine.build("kb-noanswer")
        try m.importTwin()
        let before = try m.snapshot()
        let silent = try certstore(expecting: 64, ["enable", m.twin.thumbprint, "--services", "SMTP"] + m.args, stdin: .null)
        #expect(silent.stderr.contains("Overwrite the existing default SMTP certificate?"), "\(silent)")
        #expect(silent.stderr.contains("nothing was changed"), "\(silent)")
        #expect(silent.stderr.contains("--keep-default"), "the hint names the up-front answers: \(silent)")
        try m.expectUnchanged(before)

        for answer in ["perhaps\n", "\n"] {
            // On a terminal an empty answer takes the default (Y); piped, it is no consent.
            try certstore(expecting: 64, ["enable", m.twin.thumbprint, "--services", "SMTP"] + m.args, stdin: .text(answer))
            try m.expectUnchanged(before)
        }
        #expect(try m.defaultSmtpCertificate() == m.exch01.thumbprint)
    }

    @Test("--keep-default and --overwrite-default answer up front: no question asked; together they are a usage error")
    func upFrontAnswers() throws {
        let m = try KBMachine.build("kb-upfront")
        try m.importTwin()
        let kept = try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args, stdin: .null)
        #expect(!kept.stderr.contains("Overwrite the existing"), "no question with --keep-default: \(kept)")
        #expect(try m.defaultSmtpCertificate() == m.exch01.thumbprint)
        #expect(try m.smtpThumbprints().contains(m.twin.thumbprint))

        let before = try m.snapshot()
        try certstore(expecting: 64, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default", "--overwrite-default"] + m.args)
        try m.expectUnchanged(before)

        let overwritten = try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--overwrite-default"] + m.args, stdin: .null)
        #expect(!overwritten.stderr.contains("Overwrite the existing"), "no question with --overwrite-default: \(overwritten)")
        #expect(try m.defaultSmtpCertificate() == m.twin.thumbprint)
    }

    @Test("trash list shows the removal; restore brings the .cer and .json back byte for byte; bindings.json is untouched by remove + restore")
    func trashAndRestore() throws {
        let m = try KBMachine.build("kb-restore")
        try m.importTwin()
        let cer = try #require(fileBytes(m.cerFile(m.keyless.thumbprint)))
        let json = try #require(fileBytes(m.jsonFile(m.keyless.thumbprint)))
        let bindings = try #require(fileBytes(m.bindingsFile))
        let connectors = try #require(fileBytes(m.connectorsFile))
        let personal = try DirectorySnapshot.take(m.t.storeDirectory("My"))

        let removed = try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        let id = try #require(trashID(in: removed.stdout), "\(removed)")
        #expect(fileBytes(m.cerFile(m.keyless.thumbprint)) == nil)
        #expect(fileBytes(m.jsonFile(m.keyless.thumbprint)) == nil)

        let trash = try parseJSONArray(try certstore(expecting: 0, ["trash", "list", "--format", "json"] + m.args).stdout)
        #expect(trash.count == 1, "\(trash)")
        let entry = try #require(trash.first)
        #expect(entry["id"] as? String == id)
        #expect(entry["thumbprint"] as? String == m.keyless.thumbprint)
        #expect(entry["store"] as? String == "LocalMachine/My")
        #expect(entry["subject"] as? String == TestPKI.mailName)
        #expect(entry["forced"] as? Bool == false)
        #expect(entry["keyInTrash"] as? Bool == false)
        #expect(entry["removedAt"] is String)

        let restored = try certstore(expecting: 0, ["restore", id] + m.args)
        #expect(restored.stdout.contains("Restored \(m.keyless.thumbprint)"), "\(restored)")
        #expect(fileBytes(m.cerFile(m.keyless.thumbprint)) == cer, "the .cer comes back byte for byte")
        #expect(fileBytes(m.jsonFile(m.keyless.thumbprint)) == json, "the .json comes back byte for byte")
        #expect(fileBytes(m.bindingsFile) == bindings, "bindings.json untouched by remove + restore")
        #expect(fileBytes(m.connectorsFile) == connectors)
        let personalAfter = try DirectorySnapshot.take(m.t.storeDirectory("My"))
        #expect(personalAfter == personal, "\(personal.differences(to: personalAfter))")
        #expect(try parseJSONArray(try certstore(expecting: 0, ["trash", "list", "--format", "json"] + m.args).stdout).isEmpty)

        // Restored exactly, including its place in store order: the trap is back.
        let (_, again) = try m.resolve(expecting: 2)
        #expect((again["chosen"] as? [String: Any])?["thumbprint"] as? String == m.keyless.thumbprint, "\(again)")

        // Restoring twice is not possible: the entry is gone.
        try certstore(expecting: 1, ["restore", id] + m.args)
    }

    @Test("a certificate and its key as two files in one import are paired, in either order")
    func certificateAndKeyAsTwoFiles() throws {
        let t = try TestDirectory("kb-twofiles")
        let pki = try TestPKI(in: t.path("pki"))
        let exch01 = try pki.issue("exch01", subject: "/CN=EXCH01", selfSigned: true)
        let key = try #require(exch01.key)
        for (label, files) in [("cert-key", [exch01.pem.path, key.path]), ("key-cert", [key.path, exch01.pem.path])] {
            let root = t.path(label).path
            try certstore(expecting: 0, ["import"] + files + ["--root", root])
            let items = try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json", "--root", root]).stdout)
            #expect(items.map { $0["thumbprint"] as? String } == [exch01.thumbprint], "\(label)")
            #expect(items.first?["hasPrivateKey"] as? Bool == true, "\(label)")
        }
    }
}
