import Foundation
import Testing

/// `import --certbot-lineage` and `dist/certbot/deploy-hook`: a certbot lineage laid out as certbot lays it out
/// (`live/NAME/*.pem` links to numbered files in `archive/NAME`), made with the openssl CLI at test time.
@Suite("certbot bridge: import --certbot-lineage, deploy hook")
struct CertbotBridgeTests {
    /// `<dir>/letsencrypt/{archive,live}/NAME` with generation `generation` of `cert`, the CA as chain, and the key.
    @discardableResult
    static func writeLineage(_ name: String, cert: TestPKI.Cert, pki: TestPKI, generation: Int, in dir: TestDirectory) throws -> URL {
        let fm = FileManager.default
        let archive = dir.path("letsencrypt/archive/\(name)")
        let live = dir.path("letsencrypt/live/\(name)")
        try fm.createDirectory(at: archive, withIntermediateDirectories: true)
        try fm.createDirectory(at: live, withIntermediateDirectories: true)
        let leaf = try Data(contentsOf: cert.pem)
        let chain = try Data(contentsOf: pki.ca.pem)
        try leaf.write(to: archive.appendingPathComponent("cert\(generation).pem"))
        try chain.write(to: archive.appendingPathComponent("chain\(generation).pem"))
        try (leaf + chain).write(to: archive.appendingPathComponent("fullchain\(generation).pem"))
        let key = archive.appendingPathComponent("privkey\(generation).pem")
        try Data(contentsOf: try #require(cert.key)).write(to: key)
        chmod(key.path, 0o600)
        for file in ["cert", "chain", "fullchain", "privkey"] {
            let link = live.appendingPathComponent("\(file).pem")
            try? fm.removeItem(at: link)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "../../archive/\(name)/\(file)\(generation).pem")
        }
        return live
    }

    func myEntries(_ root: String) throws -> [[String: Any]] {
        try parseJSONArray(certstore(expecting: 0, ["list", "--root", root, "--format", "json"]).stdout)
    }

    @Test("the lineage's current generation lands in My with its key, the chain in CA; the next generation takes over from the bound one (bindings, default, files), the old is archived; running it again changes nothing")
    func importsCurrentGenerationAndHandsOver() throws {
        let dir = try TestDirectory("certbot")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let first = try pki.issue("gen1", subject: "/CN=mail.example.org", days: 60, dnsNames: ["mail.example.org"])
        let live = try Self.writeLineage("mail.example.org", cert: first, pki: pki, generation: 1, in: dir)
        let imported = try certstore(expecting: 0, ["import", "--root", root, "--certbot-lineage", live.path + "/", "--format", "json"])
        let report = try parseJSONObject(imported.stdout)
        let items = try #require(report["items"] as? [[String: Any]])
        #expect(items.contains { $0["thumbprint"] as? String == first.thumbprint && $0["store"] as? String == "LocalMachine/My" && $0["hasPrivateKey"] as? Bool == true }, "\(items)")
        #expect(items.contains { $0["thumbprint"] as? String == pki.ca.thumbprint && $0["store"] as? String == "LocalMachine/CA" }, "\(items)")
        #expect((report["renewals"] as? [Any])?.isEmpty == true, "nothing was bound: nothing to hand over")
        #expect(dir.thumbprints(in: "My") == [first.thumbprint])
        _ = try certstore(expecting: 0, ["enable", first.thumbprint, "--services", "SMTP,IMAP", "--root", root], stdin: .text("Y\n"))
        // An unrelated bound certificate with other names is not taken over.
        let other = try pki.issue("other", subject: "/CN=www.example.org", days: 30, dnsNames: ["www.example.org"])
        _ = try certstore(expecting: 0, ["import", try pki.withKey(other).path, "--root", root])
        _ = try certstore(expecting: 0, ["enable", other.thumbprint, "--services", "IIS", "--root", root])

        // certbot renews: a second generation (later expiry), the links move; the import reads it and hands over.
        let second = try pki.issue("gen2", subject: "/CN=mail.example.org", days: 90, dnsNames: ["mail.example.org"])
        try Self.writeLineage("mail.example.org", cert: second, pki: pki, generation: 2, in: dir)
        let renewed = try certstore(expecting: 0, ["import", "--root", root, "--certbot-lineage", live.path])
        #expect(renewed.stdout.contains("Renewal of \(first.thumbprint): handed over to \(second.thumbprint)"), "\(renewed)")
        #expect(renewed.stdout.contains("default SMTP certificate: \(second.thumbprint) replaces \(first.thumbprint)"), "\(renewed)")
        #expect(renewed.stderr.contains("SMTP now presents \(second.thumbprint)"), "\(renewed)")
        let bindings = "\(try parseJSONObject(certstore(expecting: 0, ["bindings", "--root", root, "--format", "json"]).stdout))"
        #expect(bindings.contains(second.thumbprint) && !bindings.contains(first.thumbprint) && bindings.contains(other.thumbprint), "\(bindings)")
        #expect(Set(try myEntries(root).compactMap { $0["thumbprint"] as? String }) == [second.thumbprint, other.thumbprint], "the old generation is archived")
        let smtp = try String(contentsOf: dir.root.appendingPathComponent("LocalMachine/Services/SMTP/current/thumbprint"), encoding: .utf8)
        #expect(smtp.trimmingCharacters(in: .whitespacesAndNewlines) == second.thumbprint)

        // The deploy hook run again (certbot retried): nothing new, nothing handed over, nothing changed.
        let before = try DirectorySnapshot.take(dir.root)
        let again = try certstore(expecting: 0, ["import", "--root", root, "--certbot-lineage", live.path, "--format", "json"])
        #expect((try parseJSONObject(again.stdout)["renewals"] as? [Any])?.isEmpty == true, "\(again)")
        #expect(try DirectorySnapshot.take(dir.root) == before)
    }

    @Test("a renewal that drops a name the bound certificate has is imported but does not take over; the report gives the command")
    func droppedNameDoesNotTakeOver() throws {
        let dir = try TestDirectory("certbotdrop")
        let pki = try TestPKI(in: dir.path("pki"))
        let root = dir.rootPath
        let first = try pki.issue("gen1", subject: "/CN=mail.example.org", days: 60, dnsNames: ["mail.example.org", "smtp.example.org"])
        let live = try Self.writeLineage("mail.example.org", cert: first, pki: pki, generation: 1, in: dir)
        _ = try certstore(expecting: 0, ["import", "--root", root, "--certbot-lineage", live.path])
        _ = try certstore(expecting: 0, ["enable", first.thumbprint, "--services", "SMTP", "--root", root], stdin: .text("Y\n"))
        let second = try pki.issue("gen2", subject: "/CN=mail.example.org", days: 90, dnsNames: ["mail.example.org"])
        try Self.writeLineage("mail.example.org", cert: second, pki: pki, generation: 2, in: dir)
        let imported = try certstore(expecting: 0, ["import", "--root", root, "--certbot-lineage", live.path])
        #expect(imported.stdout.contains("Renewal of \(first.thumbprint): \(second.thumbprint) did NOT take over"), "\(imported)")
        #expect(imported.stdout.contains("smtp.example.org"), "\(imported)")
        #expect(imported.stderr.contains("certstore handover \(first.thumbprint) \(second.thumbprint) --force"), "\(imported)")
        let bindings = "\(try parseJSONObject(certstore(expecting: 0, ["bindings", "--root", root, "--format", "json"]).stdout))"
        #expect(bindings.contains(first.thumbprint) && !bindings.contains(second.thumbprint), "\(bindings)")
    }

    @Test("dist/certbot/deploy-hook imports $RENEWED_LINEAGE; without it, it refuses")
    func deployHook() throws {
        let dir = try TestDirectory("certbothook")
        let pki = try TestPKI(in: dir.path("pki"))
        let cert = try pki.issue("leaf", subject: "/CN=mail.example.org", days: 90, dnsNames: ["mail.example.org"])
        let live = try Self.writeLineage("mail.example.org", cert: cert, pki: pki, generation: 1, in: dir)
        let template = try String(contentsOf: ServiceConfigTests.packageRoot.appendingPathComponent("dist/certbot/deploy-hook.in"), encoding: .utf8)
        // What `make install` does: @BINDIR@ becomes the install's bin directory; here the binary under test.
        let hook = try dir.write("deploy-hook", template.replacingOccurrences(of: "@BINDIR@/certstore", with: try CertStoreCLI.requireBinary().path)
                                              .replacingOccurrences(of: "@DATADIR@", with: "/usr/local/share/certstore"))
        chmod(hook.path, 0o755)
        var environment = ProcessInfo.processInfo.environment
        environment["CERTSTORE_ROOT"] = dir.rootPath
        environment["RENEWED_LINEAGE"] = live.path
        let ran = try runProgram(hook, [], environment: environment)
        #expect(ran.status == 0, "\(ran)")
        #expect(dir.thumbprints(in: "My") == [cert.thumbprint])
        environment["RENEWED_LINEAGE"] = nil
        let refused = try runProgram(hook, [], environment: environment)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("RENEWED_LINEAGE"), "\(refused)")
    }

    @Test("not a lineage (no directory, no privkey.pem, a dangling link) exits 66 and creates nothing; files with the option exit 64")
    func errors() throws {
        let dir = try TestDirectory("certboterr")
        let pki = try TestPKI(in: dir.path("pki"))
        let cert = try pki.issue("leaf", subject: "/CN=mail.example.org", days: 90, dnsNames: ["mail.example.org"])
        let live = try Self.writeLineage("mail.example.org", cert: cert, pki: pki, generation: 1, in: dir)

        let missing = try certstore(expecting: 66, ["import", "--root", dir.rootPath, "--certbot-lineage", dir.path("letsencrypt/live/nope").path])
        #expect(missing.stderr.contains("not a certbot lineage"), "\(missing.stderr)")
        // certbot's own link into archive/ dangling (an archive deleted by hand).
        try FileManager.default.removeItem(at: dir.path("letsencrypt/archive/mail.example.org/privkey1.pem"))
        let dangling = try certstore(expecting: 66, ["import", "--root", dir.rootPath, "--certbot-lineage", live.path])
        #expect(dangling.stderr.contains("has no privkey.pem"), "\(dangling.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.rootPath), "a refused import created the store")

        let both = try certstore(expecting: 64, ["import", "--root", dir.rootPath, "--certbot-lineage", live.path, cert.pem.path])
        #expect(both.stderr.contains("give no files with it"), "\(both.stderr)")
        _ = try certstore(expecting: 64, ["import", "--root", dir.rootPath])
    }
}

/// Debian's certbot (2.1) against Pebble: certbot issues and renews for real, its `--deploy-hook` is
/// `dist/certbot/deploy-hook`, and the renewal takes over the SMTP binding through `import --certbot-lineage`.
@Suite("certbot against Pebble: the deploy hook hands over", .enabled(if: PebbleBinaries.installed && FileManager.default.isExecutableFile(atPath: "/usr/bin/certbot"),
                                                                  "Debian's pebble or certbot is not installed (make acme-deps)"))
struct CertbotPebbleTests {
    @Test("certbot certonly → the hook imports (SMTP enabled on it) → certbot renew --force-renewal → the hook hands over: SMTP presents the new certificate, the old is archived, audit OK")
    func certbotRenewalHandsOver() throws {
        let dir = try TestDirectory("certbotpb")
        let pebble = try PebbleServer(in: dir.path("pebble"))
        defer { _ = pebble.stop() }
        let root = dir.rootPath
        let template = try String(contentsOf: ServiceConfigTests.packageRoot.appendingPathComponent("dist/certbot/deploy-hook.in"), encoding: .utf8)
        let hook = try dir.write("deploy-hook", template.replacingOccurrences(of: "@BINDIR@/certstore", with: try CertStoreCLI.requireBinary().path)
                                              .replacingOccurrences(of: "@DATADIR@", with: "/usr/local/share/certstore"))
        chmod(hook.path, 0o755)
        var environment = ProcessInfo.processInfo.environment
        environment["REQUESTS_CA_BUNDLE"] = pebble.caBundle.path   // certbot (python-requests) trusts Pebble's listener
        environment["CERTSTORE_ROOT"] = root                        // the hook's store
        let common = ["--non-interactive", "--agree-tos", "--register-unsafely-without-email", "--server", pebble.directoryURL,
                      "--config-dir", dir.path("le/config").path, "--work-dir", dir.path("le/work").path, "--logs-dir", dir.path("le/logs").path]
        let certbot = URL(fileURLWithPath: "/usr/bin/certbot")
        let issued = try runProgram(certbot, ["certonly", "--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", String(pebble.httpPort),
                                              "-d", "mail.example.org", "--deploy-hook", hook.path] + common, environment: environment, timeout: 180)
        try #require(issued.status == 0, "\(issued)")
        let live = dir.path("le/config/live/mail.example.org")
        let first = try Fixtures.thumbprint(live.appendingPathComponent("cert.pem"), in: dir.url)
        #expect(dir.thumbprints(in: "My") == [first], "the deploy hook imported certbot's certificate")
        _ = try certstore(expecting: 0, ["enable", first, "--services", "SMTP", "--root", root], stdin: .text("Y\n"))

        // certbot renews (forced: the certificate is not due; no random sleep, which certbot adds when not on a
        // terminal) and runs the deploy hook saved in the lineage's renewal configuration.
        let renewed = try runProgram(certbot, ["renew", "--force-renewal", "--no-random-sleep-on-renew", "--http-01-address", "127.0.0.1", "--http-01-port", String(pebble.httpPort)] + common,
                                     environment: environment, timeout: 180)
        try #require(renewed.status == 0, "\(renewed)")
        let second = try Fixtures.thumbprint(live.appendingPathComponent("cert.pem"), in: dir.url)
        #expect(second != first)
        let smtp = try String(contentsOf: dir.root.appendingPathComponent("LocalMachine/Services/SMTP/current/thumbprint"), encoding: .utf8)
        #expect(smtp.trimmingCharacters(in: .whitespacesAndNewlines) == second, "SMTP's files switched to certbot's renewal")
        let listed = try parseJSONArray(certstore(expecting: 0, ["list", "--root", root, "--format", "json"]).stdout)
        #expect(listed.compactMap { $0["thumbprint"] as? String } == [second], "the old certificate is archived")
        // Trusting this run's Pebble root (as Let's Encrypt's is trusted) lets the chain build: audit is then OK.
        let rootPEM = try runProgram(URL(fileURLWithPath: "/usr/bin/curl"), ["-sSf", "--cacert", pebble.caBundle.path, pebble.managementURL + "/roots/0"])
        try #require(rootPEM.status == 0, "\(rootPEM)")
        _ = try certstore(expecting: 0, ["import", try dir.write("pebble-root.pem", rootPEM.stdout).path, "--store", "LocalMachine/Root", "--root", root])
        let audit = try certstore(["audit", "--root", root, "--format", "json"])
        #expect(try parseJSONObject(audit.stdout)["status"] as? String == "OK", "\(audit)")
    }
}
