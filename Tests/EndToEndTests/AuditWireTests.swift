import Foundation
import Testing

/// "Audit looks at everything and at the wire": certificates nothing binds are judged too, and `audit --probe`
/// reads what live services present (openssl s_server on loopback) and compares it with the bindings.
@Suite("audit: every certificate, and the wire")
struct AuditWireTests {
    struct Machine {
        let t: TestDirectory
        let pki: TestPKI

        init(_ label: String) throws {
            t = try TestDirectory(label)
            pki = try TestPKI(in: t.path("pki"))
            try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs)
        }

        var args: [String] { t.rootArgs }

        @discardableResult
        func add(_ name: String, days: Int = 365, key: URL? = nil) throws -> TestPKI.Cert {
            let cert = try pki.issue(name, subject: TestPKI.mailSubject, key: key, days: days, dnsNames: ["mail.contoso.com"])
            try certstore(expecting: 0, ["import", try pki.withKey(cert).path] + args)
            return cert
        }

        func audit(_ extra: [String] = []) throws -> (CommandResult, [[String: Any]]) {
            let result = try certstore(["audit", "--format", "json"] + extra + args)
            return (result, (try parseJSONObject(result.stdout))["findings"] as? [[String: Any]] ?? [])
        }
    }

    static func finding(_ findings: [[String: Any]], _ check: String) -> [String: Any]? {
        findings.first { $0["check"] as? String == check }
    }

    @Test("a certificate nothing binds is judged: expiring soon, expired, refused by the TLS stack — WARNING each")
    func unboundCertificatesAreJudged() throws {
        let m = try Machine("wire-unbound")
        let bound = try m.add("bound")
        try certstore(expecting: 0, ["enable", bound.thumbprint, "--services", "IIS"] + m.args)
        let (clean, cleanFindings) = try m.audit()
        #expect(clean.status == 0, "\(clean)")
        #expect(!cleanFindings.contains { ($0["check"] as? String)?.hasPrefix("unbound-") == true })

        let soon = try m.add("soon", days: 10)
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "small.key"], in: m.pki.directory)
        let small = try m.add("small", key: m.pki.directory.appendingPathComponent("small.key"))
        let (result, findings) = try m.audit(["--security-level", "2"])
        #expect(result.status == 1, "WARNING, not CRITICAL: nothing serves them yet\n\(result)")
        let expiring = try #require(Self.finding(findings, "unbound-expiring"), "\(findings)")
        #expect(expiring["object"] as? String == soon.thumbprint)
        #expect(expiring["severity"] as? String == "WARNING")
        let refused = try #require(Self.finding(findings, "unbound-tls-unusable"), "\(findings)")
        #expect(refused["object"] as? String == small.thumbprint)
        #expect((refused["detail"] as? String)?.contains("security level 2") == true)
    }

    @Test("audit --probe-url: the bound certificate served is OK; another one (no reload) is CRITICAL probe-stale; no service is CRITICAL probe-failed")
    func probesCompareTheWireWithTheBindings() throws {
        let m = try Machine("wire-probe")
        let old = try m.add("old", days: 200)
        let new = try m.add("new", days: 400)
        try certstore(expecting: 0, ["enable", new.thumbprint, "--services", "IIS"] + m.args)

        // The daemon still serves the old certificate: the reload never happened.
        let (stale, stalePort) = try BackgroundServer.opensslServer(cert: old.pem, key: try #require(old.key))
        defer { stale.stop() }
        let (result, findings) = try m.audit(["--probe-url", "https://127.0.0.1:\(stalePort)", "--probe-timeout", "5"])
        #expect(result.status == 2, "\(result)")
        let finding = try #require(Self.finding(findings, "probe-stale"), "\(findings)")
        #expect(finding["severity"] as? String == "CRITICAL")
        #expect((finding["title"] as? String)?.contains("presents \(old.thumbprint), not the bound \(new.thumbprint)") == true, "\(finding)")
        #expect((finding["detail"] as? String)?.contains("expires sooner than the bound certificate") == true, "\(finding)")

        // Saved with `probe --save`, `audit --probe` checks it: now the bound one is served.
        let (fresh, freshPort) = try BackgroundServer.opensslServer(cert: new.pem, key: try #require(new.key))
        defer { fresh.stop() }
        let saved = try certstore(expecting: 0, ["probe", "https://127.0.0.1:\(freshPort)", "--save", "--timeout", "5"] + m.args)
        #expect(saved.stderr.contains("saved https://127.0.0.1:\(freshPort)"), "\(saved)")
        let probes = try String(contentsOf: m.t.root.appendingPathComponent("LocalMachine/probes.json"), encoding: .utf8)
        #expect(probes.contains("https://127.0.0.1:\(freshPort)"), "\(probes)")
        let (ok, okFindings) = try m.audit(["--probe", "--verbose"])
        #expect(ok.status == 0, "\(ok)")
        #expect(Self.finding(okFindings, "probe-ok")?["object"] as? String == "probe:https://127.0.0.1:\(freshPort)", "\(okFindings)")

        // Nothing listens: the service is down for clients too.
        fresh.stop()
        let (down, downFindings) = try m.audit(["--probe", "--probe-timeout", "3"])
        #expect(down.status == 2, "\(down)")
        #expect(Self.finding(downFindings, "probe-failed")?["severity"] as? String == "CRITICAL", "\(downFindings)")

        // Without --probe, the wire is not looked at.
        let (quiet, quietFindings) = try m.audit()
        #expect(quiet.status == 0 && !quietFindings.contains { ($0["check"] as? String)?.hasPrefix("probe-") == true }, "\(quiet)")
        try certstore(expecting: 3, ["audit", "--probe-url", "gopher://x"] + m.args)
    }
}
