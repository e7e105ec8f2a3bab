import Foundation
import Testing

/// `renew` and `handover`: a CA made by the openssl CLI at test time signs the requests; bindings, the default
/// SMTP role, connectors, service files and hooks follow the renewal; refusals leave the store byte-identical.
@Suite("Lifecycle: renew and handover")
struct HandoverTests {
    static let subject = TestPKI.mailName

    /// The CA of `pki` signs `request`, copying the requested extensions, for `days` days.
    func sign(_ request: URL, pki: TestPKI, name: String, days: Int) throws -> URL {
        let out = pki.directory.appendingPathComponent("\(name).pem")
        try openssl(["x509", "-req", "-in", request.path, "-CA", pki.ca.pem.path, "-CAkey", try #require(pki.ca.key).path,
                     "-CAcreateserial", "-days", String(days), "-copy_extensions", "copyall", "-out", out.path], in: pki.directory)
        return out
    }

    func list(_ root: String, _ extra: [String] = []) throws -> [[String: Any]] {
        try parseJSONArray(certstore(expecting: 0, ["list", "--root", root, "--format", "json"] + extra).stdout)
    }

    func deployed(_ root: String, _ service: String = "SMTP") -> String? {
        (try? String(contentsOfFile: "\(root)/LocalMachine/Services/\(service)/current/thumbprint", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func installHook(_ root: String, log: URL) throws {
        let hooks = URL(fileURLWithPath: "\(root)/LocalMachine/Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = hooks.appendingPathComponent("10-log")
        try Data("#!/bin/sh\necho \"$CERTSTORE_SERVICE|$CERTSTORE_CONNECTOR|$CERTSTORE_OLD_THUMBPRINT|$CERTSTORE_NEW_THUMBPRINT\" >> '\(log.path)'\n".utf8).write(to: hook)
        chmod(hook.path, 0o755)
    }

    @Test("request → sign → complete → enable SMTP → renew → sign → complete: the renewal hands over (bindings, default, connector, files, hook), the old is archived, audit OK")
    func renewalCycle() throws {
        let dir = try TestDirectory("ho-cycle")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        let csr = try dir.write("mail.csr", certstore(expecting: 0, ["request", "--root", root, "--subject", Self.subject,
                                                                     "--dns-name", "mail.contoso.com", "--dns-name", "autodiscover.contoso.com",
                                                                     "--friendly-name", "Mail"]).stdout)
        let first = try sign(csr, pki: pki, name: "mail-1", days: 60)
        let old = try Fixtures.thumbprint(first, in: dir.url)
        try certstore(expecting: 0, ["complete", first.path, "--root", root])
        try certstore(expecting: 0, ["enable", old, "--services", "SMTP,IIS", "--root", root])
        try certstore(expecting: 0, ["connector", "add", "Outbound to Office 365", "--from-certificate", old, "--root", root])
        let log = dir.path("hooks.log")
        try installHook(root, log: log)
        #expect(deployed(root) == old)

        // A CA-issued certificate: renew makes a pending request with the same subject, names and key type.
        let renewed = try certstore(expecting: 0, ["renew", old, "--root", root])
        #expect(renewed.stderr.contains("renews \(old)"), "\(renewed)")
        let pending = try list(root, ["--store", "LocalMachine/REQUEST"])
        try #require(pending.count == 1)
        #expect(pending[0]["subject"] as? String == Self.subject)
        #expect(pending[0]["dnsNameList"] as? [String] == ["mail.contoso.com", "autodiscover.contoso.com"])
        #expect(pending[0]["keyAlgorithm"] as? String == nil || pending[0]["publicKeySize"] as? Int == 2048, "\(pending[0])")
        // A second renewal while one is pending is refused, changing nothing.
        let again = try certstore(expecting: 2, ["renew", old, "--root", root])
        #expect(again.stderr.contains("renews \(old) already"), "\(again)")
        let renewalCSR = try dir.write("mail-2.csr", renewed.stdout)
        #expect(try openssl(["req", "-in", renewalCSR.path, "-noout", "-subject"]).contains("CN = mail.contoso.com"))

        // The CA issues the renewal; completing it hands over automatically.
        let second = try sign(renewalCSR, pki: pki, name: "mail-2", days: 400)
        let new = try Fixtures.thumbprint(second, in: dir.url)
        let completed = try certstore(expecting: 0, ["complete", second.path, "--root", root])
        #expect(completed.stdout.contains("Renewal of \(old): handed over to \(new)"), "\(completed)")
        #expect(completed.stdout.contains("IIS, SMTP: \(old) → \(new)"), "\(completed)")
        #expect(completed.stdout.contains("default SMTP certificate: \(new) replaces \(old)"), "\(completed)")
        #expect(completed.stdout.contains("send connector \"Outbound to Office 365\" follows"), "\(completed)")
        #expect(completed.stderr.contains("SMTP now presents \(new) (was \(old))"), "\(completed)")
        #expect(completed.stderr.contains("hook 10-log (SMTP): ok"), "\(completed)")

        let bindings = try parseJSONObject(certstore(expecting: 0, ["bindings", "--root", root, "--format", "json"]).stdout)
        #expect("\(bindings)".contains(new) && !"\(bindings)".contains(old), "\(bindings)")
        #expect(try list(root).compactMap { $0["thumbprint"] as? String } == [new])
        let all = try list(root, ["--include-archived"])
        #expect(Set(all.compactMap { $0["thumbprint"] as? String }) == [old, new])
        #expect(all.first { $0["thumbprint"] as? String == old }?["archived"] as? Bool == true)
        #expect(all.first { $0["thumbprint"] as? String == new }?["friendlyName"] as? String == "Mail")
        let exchange = try certstore(expecting: 0, ["list", "--view", "exchange", "--root", root]).stdout
        #expect(exchange.contains(new) && !exchange.contains(old), "\(exchange)")
        let resolved = try parseJSONObject(certstore(expecting: 0, ["connector", "resolve", "Outbound to Office 365", "--root", root, "--format", "json"]).stdout)
        #expect("\(resolved)".contains(new), "\(resolved)")
        #expect(deployed(root) == new && deployed(root, "IIS") == new)
        let hookLines = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(hookLines.contains("SMTP||\(old)|\(new)"), "\(hookLines)")
        let audit = try certstore(["audit", "--root", root, "--format", "json"])
        #expect(audit.status == 0, "\(audit)")
        #expect(try parseJSONObject(audit.stdout)["status"] as? String == "OK", "\(audit.stdout)")

        // Undo: the old certificate takes everything back, the new one is archived.
        let undo = try certstore(expecting: 0, ["handover", new, old, "--root", root])
        #expect(undo.stdout.contains("Handed back from \(new) to \(old)"), "\(undo)")
        #expect(try list(root).compactMap { $0["thumbprint"] as? String } == [old])
        #expect(deployed(root) == old)
        try certstore(expecting: 0, ["handover", old, new, "--root", root])
        #expect(deployed(root) == new)
    }

    @Test("self-signed renew: a new certificate with the same subject, names and key type takes over at once; --reuse-key keeps the key")
    func selfSignedRenew() throws {
        let dir = try TestDirectory("ho-self")
        let root = dir.rootPath
        try certstore(expecting: 0, ["request", "--self-signed", "--subject", "CN=mail.contoso.com", "--dns-name", "mail.contoso.com",
                                     "--key-type", "ec:p256", "--services", "SMTP", "--root", root])
        let old = try #require(try list(root).first?["thumbprint"] as? String)
        let renewed = try parseJSONObject(certstore(expecting: 0, ["renew", old, "--reuse-key", "--root", root, "--format", "json"]).stdout)
        let new = try #require(renewed["thumbprint"] as? String)
        #expect(renewed["keyType"] as? String == "ec:p256")
        #expect(renewed["dnsNameList"] as? [String] == ["mail.contoso.com"])
        let entries = try list(root, ["--include-archived"])
        let oldKey = entries.first { $0["thumbprint"] as? String == old }?["publicKeySha256"] as? String
        #expect(oldKey != nil && oldKey == entries.first { $0["thumbprint"] as? String == new }?["publicKeySha256"] as? String)
        #expect(deployed(root) == new)
        #expect(try list(root).compactMap { $0["thumbprint"] as? String } == [new])
        // Renewing with a new key of another type.
        let third = try parseJSONObject(certstore(expecting: 0, ["renew", new, "--key-type", "rsa:3072", "--root", root, "--format", "json"]).stdout)
        #expect(third["keyType"] as? String == "rsa:3072")
        #expect(deployed(root) == third["thumbprint"] as? String)
        try certstore(expecting: 64, ["renew", new, "--reuse-key", "--key-type", "rsa:2048", "--root", root])
    }

    /// A store with OLD (365 days, mail + autodiscover) bound to SMTP (default) and IIS, and a connector naming it.
    func boundStore(_ label: String) throws -> (dir: TestDirectory, pki: TestPKI, old: TestPKI.Cert) {
        let dir = try TestDirectory(label)
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        let old = try pki.issue("old", subject: TestPKI.mailSubject, days: 365, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(old).path, "--root", root])
        try certstore(expecting: 0, ["enable", old.thumbprint, "--services", "SMTP,IIS", "--root", root])
        try certstore(expecting: 0, ["dependency", "add", "ldap", old.thumbprint, "--root", root])
        return (dir, pki, old)
    }

    @Test("refused, store byte-identical: keyless NEW, a missing DNS name, an earlier expiry; --dry-run changes nothing; --force hands over")
    func refusals() throws {
        let (dir, pki, old) = try boundStore("ho-refuse")
        let root = dir.rootPath
        let keyless = try pki.issue("keyless", subject: TestPKI.mailSubject, days: 400, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless", "--root", root])
        let narrow = try pki.issue("narrow", subject: TestPKI.mailSubject, days: 400, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(narrow).path, "--root", root])
        let short = try pki.issue("short", subject: TestPKI.mailSubject, days: 30, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(short).path, "--root", root])

        let before = try DirectorySnapshot.take(dir.root)
        for (new, reason) in [(keyless, "no usable private key"), (narrow, "does not cover autodiscover.contoso.com"), (short, "before the old one")] {
            let refused = try certstore(expecting: 2, ["handover", old.thumbprint, new.thumbprint, "--root", root])
            #expect(refused.stderr.contains("refused, nothing was changed") && refused.stderr.contains(reason), "\(refused)")
            #expect(refused.stderr.contains("--force"), "\(refused)")
            let after = try DirectorySnapshot.take(dir.root)
            #expect(after == before, "\(after.differences(to: before))")
            let dry = try certstore(expecting: 2, ["handover", old.thumbprint, new.thumbprint, "--dry-run", "--root", root])
            #expect(dry.stdout.contains("Would refuse the handover") && dry.stdout.contains(reason), "\(dry)")
        }
        try certstore(expecting: 1, ["handover", old.thumbprint, String(repeating: "AB", count: 20), "--root", root])
        try certstore(expecting: 64, ["handover", old.thumbprint, old.thumbprint, "--root", root])
        #expect(try DirectorySnapshot.take(dir.root) == before)

        // A dry run of a good handover prints the plan and changes nothing.
        let good = try pki.issue("good", subject: TestPKI.mailSubject, days: 400, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(good).path, "--root", root])
        let planned = try DirectorySnapshot.take(dir.root)
        let dry = try certstore(expecting: 0, ["handover", old.thumbprint, good.thumbprint, "--dry-run", "--root", root])
        #expect(dry.stdout.contains("Would hand over from \(old.thumbprint) to \(good.thumbprint)"), "\(dry)")
        #expect(dry.stdout.contains("IIS, SMTP: \(old.thumbprint) → \(good.thumbprint)"), "\(dry)")
        #expect(dry.stdout.contains("dependency ldap: \(old.thumbprint) → \(good.thumbprint)"), "\(dry)")
        #expect(try DirectorySnapshot.take(dir.root) == planned)

        // --force: the narrower certificate takes over, deliberately.
        let forced = try certstore(expecting: 0, ["handover", old.thumbprint, narrow.thumbprint, "--force", "--root", root])
        #expect(forced.stderr.contains("forced despite") && forced.stderr.contains("autodiscover.contoso.com"), "\(forced)")
        #expect(deployed(root) == narrow.thumbprint)
        let dependencies = try certstore(expecting: 0, ["dependency", "list", "--root", root]).stdout
        #expect(dependencies.contains(narrow.thumbprint) && !dependencies.contains(old.thumbprint), "\(dependencies)")
    }

    @Test("a connector that does not follow (another subject) is listed with the exact connector set; archived certificates: remove, restore, list --property Archived; audit CRITICAL when an archived one is still bound")
    func connectorsAndArchived() throws {
        let (dir, pki, old) = try boundStore("ho-conn")
        let root = dir.rootPath
        try certstore(expecting: 0, ["connector", "add", "Outbound", "--from-certificate", old.thumbprint, "--root", root])
        let other = try pki.issue("other", subject: "/C=US/O=Contoso Ltd/CN=mail.contoso.com", days: 400,
                                  dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(other).path, "--root", root])
        let moved = try certstore(expecting: 0, ["handover", old.thumbprint, other.thumbprint, "--root", root])
        let command = "certstore connector set Outbound --from-certificate \(other.thumbprint)"
        #expect(moved.stdout.contains("does not follow") && moved.stderr.contains(command), "\(moved)")
        try certstore(expecting: 0, ["connector", "set", "Outbound", "--from-certificate", other.thumbprint, "--root", root])
        let resolved = try certstore(expecting: 0, ["connector", "resolve", "Outbound", "--root", root]).stdout
        #expect(resolved.contains(other.thumbprint), "\(resolved)")

        let archived = try certstore(expecting: 0, ["list", "--include-archived", "--property", "Thumbprint,Archived", "--root", root, "--format", "csv"]).stdout
        #expect(archived.contains("\(old.thumbprint)\",\"True") || archived.contains("\(old.thumbprint),True"), "\(archived)")
        // An archived certificate is removed and restored like any other, and comes back archived.
        let removed = try certstore(expecting: 0, ["remove", old.thumbprint, "--root", root])
        let trash = try #require(trashID(in: removed.stdout), "\(removed)")
        try certstore(expecting: 0, ["restore", trash, "--root", root])
        #expect(try list(root, ["--include-archived"]).first { $0["thumbprint"] as? String == old.thumbprint }?["archived"] as? Bool == true)
        #expect(!(try list(root).contains { $0["thumbprint"] as? String == old.thumbprint }))

        // Bound while archived (bindings edited by hand): CRITICAL, fixed by the handover to its successor.
        try certstore(expecting: 0, ["enable", old.thumbprint, "--services", "POP", "--root", root])
        let audit = try parseJSONObject(certstore(expecting: 2, ["audit", "--root", root, "--format", "json"]).stdout)
        let finding = try #require(auditFindings(audit).first { $0["check"] as? String == "archived-in-use" }, "\(audit)")
        #expect(finding["severity"] as? String == "CRITICAL")
        #expect(finding["fix"] as? [String] == ["certstore --root \(root) handover \(old.thumbprint) \(other.thumbprint)"], "\(finding)")
        try certstore(expecting: 0, ["handover", old.thumbprint, other.thumbprint, "--root", root])
        #expect(deployed(root, "POP") == other.thumbprint)
    }

    @Test("audit: a bound certificate in the renewal window → fix renew (none while a renewal request is pending); its renewal in the store → handover, CRITICAL when the old one is keyless")
    func auditFindingsForRenewal() throws {
        let dir = try TestDirectory("ho-audit")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        let old = try pki.issue("old", subject: TestPKI.mailSubject, days: 40, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(old).path, "--root", root])
        try certstore(expecting: 0, ["enable", old.thumbprint, "--services", "SMTP", "--root", root])

        var report = try parseJSONObject(certstore(expecting: 1, ["audit", "--root", root, "--format", "json"]).stdout)
        var expiring = try #require(auditFindings(report).first { $0["check"] as? String == "certificate-expiring" }, "\(report)")
        #expect(expiring["severity"] as? String == "WARNING")
        #expect(expiring["fix"] as? [String] == ["certstore --root \(root) renew \(old.thumbprint)"], "\(expiring)")
        // The plan works pasted: renew makes the request; then the finding waits for its completion.
        let renewed = try certstore(expecting: 0, ["--root", root, "renew", old.thumbprint])
        report = try parseJSONObject(certstore(expecting: 1, ["audit", "--root", root, "--format", "json"]).stdout)
        expiring = try #require(auditFindings(report).first { $0["check"] as? String == "certificate-expiring" }, "\(report)")
        #expect((expiring["fix"] as? [String])?.isEmpty == true && (expiring["detail"] as? String)?.contains("pending request") == true, "\(expiring)")

        // A renewal imported from outside (a PKCS#12), not yet handed over: WARNING → handover; keyless old: CRITICAL.
        #expect(renewed.stdout.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"), "\(renewed)")
        let outside = try pki.issue("outside", subject: TestPKI.mailSubject, days: 400, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.pfx(outside).path, "--root", root])
        report = try parseJSONObject(certstore(["audit", "--root", root, "--format", "json"]).stdout)
        let twin = try #require(auditFindings(report).first { $0["check"] as? String == "renewal-not-handed-over" }, "\(report)")
        #expect(twin["fix"] as? [String] == ["certstore --root \(root) handover \(old.thumbprint) \(outside.thumbprint)"], "\(twin)")
        #expect(twin["severity"] as? String == "WARNING", "\(twin)")
        let key = dir.root.appendingPathComponent("LocalMachine/Keys/\(try pki.keyFileName(try #require(old.key)))")
        try FileManager.default.removeItem(at: key)
        report = try parseJSONObject(certstore(expecting: 2, ["audit", "--root", root, "--format", "json"]).stdout)
        let critical = try #require(auditFindings(report).first { $0["check"] as? String == "renewal-not-handed-over" }, "\(report)")
        #expect(critical["severity"] as? String == "CRITICAL", "\(critical)")
        // Following the plan hands over; the audit is then clean of both.
        let plan = try #require(report["remediationPlan"] as? [String])
        #expect(plan.contains("certstore --root \(root) handover \(old.thumbprint) \(outside.thumbprint)"), "\(plan)")
        try certstore(expecting: 0, ["handover", old.thumbprint, outside.thumbprint, "--root", root])
        report = try parseJSONObject(certstore(["audit", "--root", root, "--format", "json"]).stdout)
        #expect(!auditFindings(report).contains { ["renewal-not-handed-over", "certificate-expiring", "bound-keyless"].contains($0["check"] as? String ?? "") }, "\(report)")
    }

    @Test("a completed renewal that misses a name does not take over: the completion stands, the command is printed and works; renew's own refusals")
    func completionWithoutHandoverAndRenewErrors() throws {
        let (dir, pki, old) = try boundStore("ho-partial")
        let root = dir.rootPath
        let csr = try dir.write("renewal.csr", certstore(expecting: 0, ["renew", old.thumbprint, "--root", root]).stdout)
        // The CA drops autodiscover.contoso.com: it signs the request's key with its own extensions.
        let ext = try dir.write("narrow.ext", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mail.contoso.com\n")
        let issued = pki.directory.appendingPathComponent("narrow-renewal.pem")
        try openssl(["x509", "-req", "-in", csr.path, "-CA", pki.ca.pem.path, "-CAkey", try #require(pki.ca.key).path, "-CAcreateserial",
                     "-days", "400", "-extfile", ext.path, "-out", issued.path], in: pki.directory)
        let new = try Fixtures.thumbprint(issued, in: dir.url)
        let completed = try certstore(expecting: 0, ["complete", issued.path, "--root", root, "--format", "json"])
        let renewals = try #require(try parseJSONObject(completed.stdout)["renewals"] as? [[String: Any]], "\(completed)")
        try #require(renewals.count == 1)
        #expect(renewals[0]["renewed"] as? String == old.thumbprint && renewals[0]["certificate"] as? String == new)
        #expect(renewals[0]["handedOver"] as? Bool == false)
        #expect((renewals[0]["steps"] as? [String])?.first?.contains("autodiscover.contoso.com") == true, "\(renewals)")
        let command = "certstore handover \(old.thumbprint) \(new) --force"
        #expect(renewals[0]["commands"] as? [String] == [command])
        // The certificate is in My with its key; nothing moved.
        #expect(deployed(root) == old.thumbprint)
        #expect(try list(root).first { $0["thumbprint"] as? String == new }?["hasPrivateKey"] as? Bool == true)
        let table = try certstore(expecting: 0, ["complete", issued.path, "--root", root])
        #expect(table.stdout.contains("AlreadyPresent"), "\(table)")
        try certstore(expecting: 0, Array(command.split(separator: " ").dropFirst().map(String.init)) + ["--root", root])
        #expect(deployed(root) == new)

        // renew refuses what it cannot do, changing nothing.
        try certstore(expecting: 1, ["renew", String(repeating: "CD", count: 20), "--root", root])
        try certstore(expecting: 64, ["renew", new, "--der", "--root", root])
        try certstore(expecting: 64, ["renew", new, "--key-type", "dsa:1024", "--root", root])
        let keyless = try pki.issue("keyless", subject: TestPKI.mailSubject, days: 400, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless", "--root", root])
        let withKeyless = try DirectorySnapshot.take(dir.root)
        let reuse = try certstore(expecting: 2, ["renew", keyless.thumbprint, "--reuse-key", "--root", root])
        #expect(reuse.stderr.contains("no usable private key to reuse"), "\(reuse)")
        try certstore(expecting: 64, ["renew", pki.ca.thumbprint, "--store", "LocalMachine/Root", "--root", root])
        #expect(try DirectorySnapshot.take(dir.root) == withKeyless)
    }

    @Test("the KB 4495258 machine: handing over from the keyless certificate to its twin archives it, and the connector's TLSCertificateName can no longer pick it")
    func kbTwinTrapClosed() throws {
        let m = try KBMachine.build("ho-kb")
        try m.importTwin()
        let (_, before) = try m.resolve()
        #expect((before["chosen"] as? [String: Any])?["thumbprint"] as? String == m.keyless.thumbprint, "first in store order: \(before)")
        let moved = try certstore(expecting: 0, ["handover", m.keyless.thumbprint, m.twin.thumbprint] + m.args)
        #expect(moved.stdout.contains("send connector \"\(KBMachine.connector)\" follows"), "\(moved)")
        let (_, after) = try m.resolve()
        #expect((after["chosen"] as? [String: Any])?["thumbprint"] as? String == m.twin.thumbprint, "\(after)")
        #expect("\(after)".contains("skipped: archived"), "\(after)")
        // With the twin enabled for SMTP the connector works; audit has no keyless-twin ambiguity left.
        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        let (_, report) = try m.audit()
        let connector = try #require((report["connectors"] as? [[String: Any]])?.first)
        #expect(connector["usable"] as? Bool == true && connector["keylessTwin"] as? Bool == false, "\(connector)")
    }
}
