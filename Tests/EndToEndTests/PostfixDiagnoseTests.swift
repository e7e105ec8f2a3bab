import Foundation
import Testing

/// `diagnose --log` on what a real postfix logs: a private instance on loopback reads the SMTP binding's files;
/// a client rejects the certificate, the deployed key goes missing, then a key of another certificate takes its
/// place. Its maillog is diagnosed against the store, and the fix diagnose names (`certstore deploy`, `postfix
/// reload`) makes postfix serve the bound certificate again. Needs root and Debian's postfix (make mail-deps).
@Suite("diagnose on a live postfix", .serialized)
struct PostfixDiagnoseTests {
    /// One STARTTLS handshake by openssl s_client; its exit status is not the point, the server's log is.
    static func handshake(_ port: UInt16, _ options: String = "") throws -> String? {
        let script = "echo QUIT | timeout 10 openssl s_client -starttls smtp -connect 127.0.0.1:\(port) \(options) 2>/dev/null | openssl x509 -noout -fingerprint -sha1 2>/dev/null"
        let result = try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", script], timeout: 30)
        return result.stdout.split(separator: "=").last.map { $0.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Connects until postfix has logged `text` (a reload lets running smtpd processes finish first).
    static func provoke(_ instance: PostfixTests.Instance, until text: String, options: String = "") throws {
        for _ in 0..<40 {
            _ = try handshake(instance.port, options)
            if instance.log().contains(text) { return }
            usleep(250_000)
        }
        throw RunnerError("postfix never logged \"\(text)\":\n\(instance.log())")
    }

    @Test("a client rejecting the certificate, a missing deployed key, a key of another certificate: each tied to SMTP's files and thumbprint, and the fix works",
          .enabled(if: PostfixTests.available, "needs root and /usr/sbin/postfix (make mail-deps)"))
    func liveFailures() throws {
        let t = try TestDirectory("postfix-diagnose")
        let pki = try TestPKI(in: t.path("pki"))
        let stranger = try TestPKI(in: t.path("stranger-pki"))
        let root = t.rootPath
        let a = try pki.issue("mail-a", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let other = try pki.issue("other", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        try certstore(expecting: 0, ["import", try pki.withKey(a).path, "--root", root])
        try certstore(expecting: 0, ["enable", a.thumbprint, "--services", "SMTP", "--root", root])
        let config = try certstore(expecting: 0, ["service-config", "postfix", "--root", root]).stdout
        let instance = try PostfixTests.Instance(in: t.path("postfix"), serviceConfig: config)
        try instance.start()
        let current = "\(root)/LocalMachine/Services/SMTP/current"
        #expect(try Self.handshake(instance.port) == a.thumbprint, "\(instance.log())")

        // 1. A client that does not trust the issuer answers `unknown ca`.
        try Self.provoke(instance, until: "alert unknown ca", options: "-verify_return_error -CAfile \(stranger.ca.pem.path)")

        // 2. The deployed key disappears: postfix cannot open the chain file, and then has no certificate to offer.
        try FileManager.default.removeItem(atPath: "\(current)/privkey.pem")
        _ = try instance.command("reload")
        try Self.provoke(instance, until: "error opening chain file")

        // 3. Another certificate's key in its place.
        try certstore(expecting: 0, ["deploy", "--root", root])
        let liveKey = URL(fileURLWithPath: "\(current)/privkey.pem").resolvingSymlinksInPath()
        try FileManager.default.removeItem(at: liveKey)
        try FileManager.default.copyItem(at: try #require(other.key), to: liveKey)
        _ = try instance.command("reload")
        try Self.provoke(instance, until: "does not match")

        // diagnose reads postfix's maillog and names the store's side of each failure.
        let maillog = instance.directory.appendingPathComponent("maillog")
        let run = try certstore(["diagnose", "--log", maillog.path, "--format", "json", "--root", root])
        #expect(run.status == 1, "failures found: \(run)")
        let json = try parseJSONObject(run.stdout)
        #expect((json["formats"] as? [[String: Any]])?.first?["format"] as? String == "syslog", "\(json)")
        let groups = json["groups"] as? [[String: Any]] ?? []
        func group(_ kind: String) -> [String: Any]? { groups.first { $0["kind"] as? String == kind } }
        func diagnosis(_ kind: String) -> [String: Any] { group(kind)?["diagnosis"] as? [String: Any] ?? [:] }

        let rejected = diagnosis("PeerRejectedCertificate")
        #expect(group("PeerRejectedCertificate")?["program"] as? String == "postfix/smtpd", "\(groups)")
        #expect(rejected["services"] as? [String] == ["SMTP"])
        #expect(rejected["thumbprint"] as? String == a.thumbprint, "\(rejected)")
        #expect((rejected["fix"] as? [String])?.contains("certstore --root \(root) show \(a.thumbprint)") == true, "\(rejected)")

        let missing = diagnosis("KeyFileUnreadable")
        #expect(group("KeyFileUnreadable")?["paths"] as? [String] == ["\(current)/privkey.pem"], "\(groups)")
        #expect((group("KeyFileUnreadable")?["consequences"] as? Int ?? 0) >= 1, "the no shared cipher that followed: \(groups)")
        #expect(group("NoSharedCipher") == nil, "a consequence, not a failure of its own: \(groups)")
        #expect(missing["thumbprint"] as? String == a.thumbprint, "\(missing)")
        let file = (missing["files"] as? [[String: Any]])?.first
        #expect(file?["serviceFolder"] as? String == "SMTP" && file?["version"] as? String == "current", "\(missing)")
        #expect(missing["fix"] as? [String] == ["certstore --root \(root) deploy", "postfix reload"], "\(missing)")

        let mismatch = diagnosis("KeyCertificateMismatch")
        #expect(mismatch["thumbprint"] as? String == a.thumbprint, "\(groups)")
        #expect((mismatch["fix"] as? [String])?.first == "certstore --root \(root) deploy", "\(mismatch)")
        #expect((mismatch["explanation"] as? String)?.contains("behind certstore's back") == true, "\(mismatch)")

        let text = try certstore(expecting: 1, ["diagnose", "--log", maillog.path, "--root", root])
        #expect(text.stdout.contains("postfix/smtpd (SMTP, inbound): private key file missing or unreadable [KeyFileUnreadable]"), "\(text)")
        #expect(text.stdout.contains("[Services/SMTP]"), "\(text)")

        // The fix diagnose gave: deploy rewrites the key, a reload, and postfix serves A again.
        try certstore(expecting: 0, ["deploy", "--root", root])
        _ = try instance.command("reload")
        var served: String? = nil
        for _ in 0..<40 where served != a.thumbprint {
            served = try Self.handshake(instance.port)
            if served != a.thumbprint { usleep(250_000) }
        }
        #expect(served == a.thumbprint, "\(instance.log())")
    }

    @Test("a file in no log format is exit 65 naming what diagnose reads; a postfix log with no TLS failure is exit 0")
    func unknownFormat() throws {
        let t = try TestDirectory("diagnose-format")
        let m = try KBMachine.build("diag-format")
        let csv = try t.write("inventory.log", Data("name,size\nfoo,1\n".utf8))
        let refused = try certstore(expecting: 65, ["diagnose", "--log", csv.path] + m.args)
        #expect(refused.stderr.contains("no log format"), "\(refused)")
        #expect(refused.stderr.contains("mail.log"), "\(refused)")
        let clean = try t.write("mail.log", Data("""
            2026-12-03T12:45:45.038853+00:00 mail postfix/smtpd[24179]: connect from localhost[127.0.0.1]
            2026-12-03T12:45:45.040307+00:00 mail postfix/smtpd[24179]: disconnect from localhost[127.0.0.1] ehlo=1 starttls=1 quit=1 commands=3

            """.utf8))
        let ok = try certstore(expecting: 0, ["diagnose", "--log", clean.path] + m.args)
        #expect(ok.stdout.hasPrefix("0 TLS failures in 1 file (2 log lines (2 from postfix))"), "\(ok)")
    }
}
