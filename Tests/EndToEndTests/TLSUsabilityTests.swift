import Foundation
import Testing

/// "Usable means usable by the TLS stack": a certificate Exchange accepts (RSA 1024) but OpenSSL at security
/// level 2 refuses. `enable` refuses it with the reason and the level, `--security-level 1` accepts it, the
/// deployed files really fail in `openssl s_server` at level 2, and audit/list say the same as the stack.
@Suite("TLS usability: enable, audit and list judged by OpenSSL")
struct TLSUsabilityTests {
    struct Machine {
        let t: TestDirectory
        let pki: TestPKI
        let small: TestPKI.Cert
        let good: TestPKI.Cert

        init(_ label: String) throws {
            t = try TestDirectory(label)
            pki = try TestPKI(in: t.path("pki"))
            try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs)
            try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "small.key"], in: pki.directory)
            small = try pki.issue("small", subject: "/O=Contoso Ltd/CN=legacy.contoso.com", key: pki.directory.appendingPathComponent("small.key"),
                                  dnsNames: ["legacy.contoso.com"])
            good = try pki.issue("good", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
            for cert in [small, good] { try certstore(expecting: 0, ["import", try pki.withKey(cert).path] + t.rootArgs) }
        }

        var args: [String] { t.rootArgs }
        func serviceFile(_ service: String, _ name: String) -> URL {
            t.root.appendingPathComponent("LocalMachine/Services/\(service)/current/\(name)")
        }
        func audit(_ extra: [String]) throws -> (CommandResult, [[String: Any]]) {
            let result = try certstore(["audit", "--format", "json"] + extra + args)
            let report = try parseJSONObject(result.stdout)
            return (result, report["findings"] as? [[String: Any]] ?? [])
        }
    }

    @Test("enable refuses what OpenSSL refuses at the level, changes nothing, and accepts it at a level the stack serves it at")
    func enableIsJudgedByTheStack() throws {
        let m = try Machine("tls-enable")
        let before = try DirectorySnapshot.take(m.t.root)
        let refused = try certstore(expecting: 2, ["enable", m.small.thumbprint, "--services", "IIS", "--security-level", "2"] + m.args)
        #expect(refused.stderr.contains("cannot serve TLS on this machine"), "\(refused)")
        #expect(refused.stderr.contains("RSA 1024-bit key gives 80 bits of security; security level 2 needs 112"), "\(refused)")
        #expect(refused.stderr.contains("ee key too small"), "\(refused)")
        #expect(refused.stderr.contains("--security-level"), "the hint names the way out: \(refused)")
        let after = try DirectorySnapshot.take(m.t.root)
        #expect(after == before, "a refused enable changed the store:\n\(before.differences(to: after))")

        // Without the flag the system's level applies: Debian builds OpenSSL with level 2 (the machines this runs on).
        let system = try certstore(expecting: 2, ["enable", m.small.thumbprint, "--services", "IIS"] + m.args)
        #expect(system.stderr.contains("(OpenSSL security level 2: ee key too small)"), "\(system)")

        try certstore(expecting: 64, ["enable", m.small.thumbprint, "--services", "IIS", "--security-level", "7"] + m.args)
        try certstore(expecting: 0, ["enable", m.small.thumbprint, "--services", "IIS", "--security-level", "1"] + m.args)
        try certstore(expecting: 0, ["enable", m.good.thumbprint, "--services", "SMTP", "--security-level", "2"] + m.args)

        // The daemon's truth: OpenSSL at level 2 will not load the deployed files.
        let server = try opensslResult(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cipher", "DEFAULT@SECLEVEL=2",
                                        "-cert", m.serviceFile("IIS", "cert.pem").path, "-key", m.serviceFile("IIS", "privkey.pem").path],
                                       in: m.t.url)
        #expect(server.status != 0 && (server.stdout + server.stderr).contains("ee key too small"), "\(server)")
    }

    @Test("audit is CRITICAL for a bound or connector-resolved certificate the stack refuses, OK at a level it serves it at")
    func auditJudgesBoundAndConnectorCertificates() throws {
        let m = try Machine("tls-audit")
        try certstore(expecting: 0, ["enable", m.small.thumbprint, "--services", "IIS,SMTP", "--security-level", "1"] + m.args)
        try certstore(expecting: 0, ["enable", m.good.thumbprint, "--services", "POP"] + m.args)
        try certstore(expecting: 0, ["connector", "add", "Legacy", "--tls-certificate-name",
                                     "<I>\(TestPKI.caName)<S>CN=legacy.contoso.com, O=Contoso Ltd"] + m.args)

        let (strict, findings) = try m.audit(["--security-level", "2"])
        #expect(strict.status == 2, "\(strict)")
        let bound = findings.first { $0["check"] as? String == "bound-tls-unusable" }
        #expect(bound?["severity"] as? String == "CRITICAL", "\(findings)")
        #expect(bound?["object"] as? String == m.small.thumbprint)
        #expect((bound?["detail"] as? String)?.contains("security level 2: ee key too small") == true, "\(bound ?? [:])")
        let connector = findings.first { $0["check"] as? String == "connector-tls-unusable" }
        #expect(connector?["severity"] as? String == "CRITICAL", "\(findings)")
        #expect(connector?["object"] as? String == "connector:Legacy")
        // What the stack refuses is not also reported as HealthChecker's key-size recommendation.
        #expect(!findings.contains { $0["check"] as? String == "bound-small-key" }, "\(findings)")
        #expect(!findings.contains { $0["check"] as? String == "connector-ok" }, "\(findings)")

        let (lenient, relaxed) = try m.audit(["--security-level", "1", "--verbose"])
        #expect(!relaxed.contains { ["bound-tls-unusable", "connector-tls-unusable"].contains($0["check"] as? String) }, "\(lenient)")
        #expect(relaxed.contains { $0["check"] as? String == "connector-ok" }, "\(relaxed)")
        let ok = relaxed.first { $0["check"] as? String == "bound-ok" && $0["object"] as? String == m.good.thumbprint }
        #expect((ok?["detail"] as? String)?.contains("OpenSSL serves it at security level 1") == true, "\(relaxed)")
        // HealthChecker's recommendation stays, as a warning, for what the stack still serves.
        #expect(relaxed.contains { $0["check"] as? String == "bound-small-key" && $0["severity"] as? String == "WARNING" }, "\(relaxed)")
    }

    @Test("list --property TlsUsable,TlsProblem: on demand, per certificate, at the level asked for")
    func listShowsTheStacksVerdict() throws {
        let m = try Machine("tls-list")
        let list = try certstore(expecting: 0, ["list", "--property", "Thumbprint,TlsUsable,TlsProblem", "--security-level", "2",
                                                "--format", "json"] + m.args)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], "\(list)")
        let small = try #require(rows.first { $0["thumbprint"] as? String == m.small.thumbprint })
        let good = try #require(rows.first { $0["thumbprint"] as? String == m.good.thumbprint })
        #expect(small["tlsUsable"] as? Bool == false)
        #expect((small["tlsProblem"] as? String)?.hasSuffix("(security level 2)") == true, "\(small)")
        #expect(good["tlsUsable"] as? Bool == true)
        #expect(good["tlsProblem"] is NSNull, "\(good)")

        let lenient = try certstore(expecting: 0, ["list", "--property", "Thumbprint,TlsUsable", "--security-level", "1", "--format", "csv"] + m.args)
        #expect(lenient.stdout.contains("\(m.small.thumbprint),True\n"), "\(lenient)")
        // Not part of `*`: a full listing does no handshakes.
        let all = try certstore(expecting: 0, ["list", "--property", "*", "--format", "json"] + m.args)
        #expect(!all.stdout.contains("tlsUsable"))
        let show = try certstore(expecting: 0, ["show", m.small.thumbprint, "--property", "TlsUsable,TlsProblem", "--security-level", "2"] + m.args)
        #expect(show.stdout.contains("False") && show.stdout.contains("security level 2"), "\(show)")
    }
}
