import Foundation
import Testing

/// `certstore acme` against a real ACME server: Debian's Pebble with pebble-challtestsrv as its DNS (PebbleKit).
/// Pebble's validation authority really fetches the http-01 response from certstore's listener or a web server
/// on loopback, and really looks up the TXT record the dns-01 hook set.
@Suite("ACME against Pebble", .enabled(if: PebbleBinaries.installed, "Debian's pebble is not installed (make acme-deps)"))
struct ACMETests {
    /// A store with a registered account on a fresh Pebble.
    final class Fixture {
        let dir: TestDirectory
        let pebble: PebbleServer
        var root: String { dir.rootPath }
        var args: [String] { ["--root", root] }
        var location: URL { dir.root.appendingPathComponent("LocalMachine") }

        init(_ label: String, environment: [String: String] = [:], register: Bool = true) throws {
            dir = try TestDirectory(label)
            pebble = try PebbleServer(in: dir.path("pebble"), environment: environment)
            if register {
                try certstore(expecting: 0, ["acme", "register", "--server", pebble.directoryURL, "--email", "hostmaster@example.com",
                                             "--agree-tos", "--ca-bundle", pebble.caBundle.path] + args)
            }
        }

        func list(_ store: String = "LocalMachine/My") throws -> [[String: Any]] {
            try parseJSONArray(try certstore(expecting: 0, ["list", "--store", store, "--format", "json"] + args).stdout)
        }

        func trash() throws -> [[String: Any]] {
            try parseJSONArray(try certstore(expecting: 0, ["trash", "list", "--format", "json"] + args).stdout)
        }

        /// Orders NAMES with --http-01 standalone on Pebble's http-01 port; returns the command's result.
        func order(_ names: [String], expecting status: Int32 = 0, extra: [String] = [],
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
            try certstore(expecting: status, ["acme", "order"] + names.flatMap { ["--dns-name", $0] }
                          + ["--http-01", "standalone:\(pebble.httpPort)"] + extra + args, timeout: 120, sourceLocation: sourceLocation)
        }

        deinit { pebble.stop() }
    }

    @Test("register: an ES256 account key 0600 in the location, acme.json beside bindings.json; account shows it; a second register is refused")
    func register() throws {
        let f = try Fixture("acme-reg")
        let key = f.location.appendingPathComponent("ACME/account.key")
        #expect(octal(fileMode(key)) == "0600")
        #expect(octal(fileMode(f.location.appendingPathComponent("ACME"))) == "0700")
        let key64 = try openssl(["pkey", "-in", key.path, "-noout", "-text"], in: f.dir.url)
        #expect(key64.contains("NIST CURVE: P-256"), "\(key64)")
        let document = try parseJSONObject(String(decoding: try Data(contentsOf: f.location.appendingPathComponent("acme.json")), as: UTF8.self))
        let account = try #require(document["account"] as? [String: Any])
        #expect(account["server"] as? String == f.pebble.directoryURL)
        let url = try #require(account["url"] as? String)
        #expect(url.hasPrefix("https://127.0.0.1:"), "the account URL Pebble gave: \(url)")
        #expect(account["contact"] as? [String] == ["mailto:hostmaster@example.com"])

        let shown = try certstore(expecting: 0, ["acme", "account"] + f.args)
        #expect(shown.stdout.contains("Account: \(url)"), "\(shown)")
        #expect(shown.stdout.contains("Contact: mailto:hostmaster@example.com"))
        let json = try parseJSONObject(try certstore(expecting: 0, ["acme", "account", "--format", "json"] + f.args).stdout)
        #expect(json["url"] as? String == url)
        #expect((json["keyThumbprint"] as? String)?.count == 43)

        let again = try certstore(expecting: 2, ["acme", "register", "--server", f.pebble.directoryURL, "--agree-tos",
                                                 "--ca-bundle", f.pebble.caBundle.path] + f.args)
        #expect(again.stderr.contains("already has an ACME account"), "\(again)")
    }

    @Test("register errors: no --agree-tos (Pebble has terms), an untrusted server, a missing CA bundle; account without one exits 1")
    func registerErrors() throws {
        let f = try Fixture("acme-regerr", register: false)
        let noTOS = try certstore(expecting: 64, ["acme", "register", "--server", f.pebble.directoryURL, "--ca-bundle", f.pebble.caBundle.path] + f.args)
        #expect(noTOS.stderr.contains("--agree-tos"), "\(noTOS)")
        // Without the CA bundle Pebble's certificate is not trusted: the TLS failure is said, nothing written.
        let untrusted = try certstore(expecting: 66, ["acme", "register", "--server", f.pebble.directoryURL, "--agree-tos"] + f.args)
        #expect(untrusted.stderr.contains("cannot reach the ACME server"), "\(untrusted)")
        let missing = try certstore(expecting: 66, ["acme", "register", "--server", f.pebble.directoryURL, "--agree-tos",
                                                    "--ca-bundle", f.dir.path("nope.pem").path] + f.args)
        #expect(missing.stderr.contains("does not exist"), "\(missing)")
        let notURL = try certstore(expecting: 64, ["acme", "register", "--server", "not a url", "--agree-tos"] + f.args)
        #expect(notURL.stderr.contains("not an ACME directory URL"), "\(notURL)")
        #expect(!FileManager.default.fileExists(atPath: f.location.appendingPathComponent("acme.json").path))
        #expect(!FileManager.default.fileExists(atPath: f.location.appendingPathComponent("ACME/account.key").path))
        // An existing store without an account (nothing above created one).
        #expect(!FileManager.default.fileExists(atPath: f.location.path))
        try FileManager.default.createDirectory(at: f.location, withIntermediateDirectories: true)
        let none = try certstore(expecting: 1, ["acme", "account"] + f.args)
        #expect(none.stderr.contains("no ACME account"), "\(none)")
        let noAccountOrder = try certstore(expecting: 1, ["acme", "order", "--dns-name", "mail.example.com"] + f.args)
        #expect(noAccountOrder.stderr.contains("acme register"), "\(noAccountOrder)")
    }

    @Test("order with http-01 standalone and --services SMTP: Pebble validates certstore's listener; in My with its key, chain in CA, bound, ACME-managed")
    func orderStandalone() throws {
        let f = try Fixture("acme-std")
        let ordered = try f.order(["mail.example.com", "smtp.example.com"], extra: ["--services", "SMTP", "--key-type", "ec:p256"])
        let thumbprint = try #require(ordered.stdout.split(separator: " ").dropFirst().first.map(String.init), "\(ordered)")
        #expect(ordered.stdout.hasPrefix("Issued \(thumbprint) for mail.example.com, smtp.example.com"), "\(ordered)")
        #expect(ordered.stdout.contains("Enabled SMTP on \(thumbprint)."))
        let my = try f.list()
        try #require(my.count == 1, "\(my)")
        #expect(my[0]["thumbprint"] as? String == thumbprint)
        #expect(my[0]["hasPrivateKey"] as? Bool == true)
        #expect(my[0]["dnsNameList"] as? [String] == ["mail.example.com", "smtp.example.com"])
        #expect((my[0]["issuer"] as? String ?? "").contains("Pebble"), "\(my[0])")
        #expect(try f.list("LocalMachine/REQUEST").isEmpty, "the pending request was consumed")
        let ca = try f.list("LocalMachine/CA")
        #expect(ca.contains { ($0["subject"] as? String ?? "").contains("Pebble Intermediate") }, "\(ca)")
        let bindings = try certstore(expecting: 0, ["bindings", "--format", "json"] + f.args).stdout
        #expect(bindings.contains(thumbprint), "\(bindings)")
        let account = try parseJSONObject(try certstore(expecting: 0, ["acme", "account", "--format", "json"] + f.args).stdout)
        let managed = try #require(account["certificates"] as? [[String: Any]])
        #expect(managed.count == 1)
        #expect(managed.first?["thumbprint"] as? String == thumbprint)
        #expect(managed.first?["challenge"] as? String == "http-01 standalone:\(f.pebble.httpPort)")
        #expect(managed.first?["services"] as? [String] == ["SMTP"])
        #expect(managed.first?["keyType"] as? String == "ec:p256")
    }

    @Test("a failing challenge (nothing answers on Pebble's http-01 port): exit 2, My, CA and bindings untouched, the order's key in the trash")
    func failingChallenge() throws {
        let f = try Fixture("acme-fail")
        try f.order(["mail.example.com"], extra: ["--services", "SMTP"])
        let bindings = try #require(fileBytes(f.location.appendingPathComponent("bindings.json")))
        let acmeJSON = try #require(fileBytes(f.location.appendingPathComponent("acme.json")))
        let my = try DirectorySnapshot.take(f.dir.storeDirectory("My"))
        let ca = try DirectorySnapshot.take(f.dir.storeDirectory("CA"))
        let keys = Set(try FileManager.default.contentsOfDirectory(atPath: f.location.appendingPathComponent("Keys").path))

        // Listen elsewhere: Pebble's validation authority finds nothing on its http-01 port.
        let elsewhere = try Loopback.freePort()
        let failed = try certstore(expecting: 2, ["acme", "order", "--dns-name", "mail2.example.com", "--http-01", "standalone:\(elsewhere)",
                                                  "--services", "SMTP"] + f.args, timeout: 120)
        #expect(failed.stderr.contains("could not validate mail2.example.com by http-01"), "\(failed)")
        #expect(fileBytes(f.location.appendingPathComponent("bindings.json")) == bindings)
        #expect(fileBytes(f.location.appendingPathComponent("acme.json")) == acmeJSON)
        #expect(try DirectorySnapshot.take(f.dir.storeDirectory("My")) == my)
        #expect(try DirectorySnapshot.take(f.dir.storeDirectory("CA")) == ca)
        #expect(try f.list("LocalMachine/REQUEST").isEmpty)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: f.location.appendingPathComponent("Keys").path)) == keys,
                "the failed order's key is not left in Keys/")
        // The trash holds the first order's completed request (its key stayed with its certificate) and the failed
        // order's request with its key.
        let trash = try f.trash()
        let withKey = trash.filter { $0["keyInTrash"] as? Bool == true }
        try #require(withKey.count == 1, "\(trash)")
        #expect(withKey[0]["store"] as? String == "LocalMachine/REQUEST")
        #expect(withKey[0]["subject"] as? String == "CN=mail2.example.com")
    }

    @Test("order with http-01 webroot: the response files are written where a web server (python3 http.server) serves them, and removed after")
    func orderWebroot() throws {
        let f = try Fixture("acme-web")
        let webroot = f.dir.path("www")
        try FileManager.default.createDirectory(at: webroot, withIntermediateDirectories: true)
        let server = BackgroundServer("http.server", try RunningProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-m", "http.server", "\(f.pebble.httpPort)", "--bind", "127.0.0.1", "--directory", webroot.path]))
        defer { server.stop() }
        try #require(Loopback.waitUntilAccepting(f.pebble.httpPort, timeout: 10), "python3 http.server did not start")
        let ordered = try certstore(expecting: 0, ["acme", "order", "--dns-name", "www.example.com", "--http-01", "webroot:\(webroot.path)"] + f.args,
                                    timeout: 120)
        #expect(ordered.stdout.contains("proven by http-01 webroot:\(webroot.path)"), "\(ordered)")
        let log = server.stop()
        #expect(log.stderr.contains("GET /.well-known/acme-challenge/"), "Pebble fetched the token from the web server:\n\(log)")
        let left = try FileManager.default.contentsOfDirectory(atPath: webroot.appendingPathComponent(".well-known/acme-challenge").path)
        #expect(left.isEmpty, "response files left behind: \(left)")
        #expect(try f.list().count == 1)
    }

    @Test("order with dns-01: the hook sets the TXT record in pebble-challtestsrv (add before validation, remove after); a failing hook fails the order")
    func orderDNS01() throws {
        let f = try Fixture("acme-dns")
        let log = f.dir.path("hook.log")
        // The hook a user would write for their DNS provider; this one talks to challtestsrv's management API.
        let hook = try f.dir.path("hook.sh").writing("""
            #!/bin/sh
            set -e
            echo "$1 $2 $3" >> \(log.path)
            case "$1" in
              add) path=set-txt; body="{\\"host\\":\\"$2.\\",\\"value\\":\\"$3\\"}" ;;
              remove) path=clear-txt; body="{\\"host\\":\\"$2.\\"}" ;;
              *) exit 64 ;;
            esac
            curl -sf -X POST -d "$body" \(f.pebble.challengeManagementURL)/$path
            """)
        chmod(hook.path, 0o755)
        let ordered = try certstore(expecting: 0, ["acme", "order", "--dns-name", "dns.example.com", "--dns-name", "*.dns.example.com",
                                                   "--dns-01-hook", hook.path, "--format", "json"] + f.args, timeout: 120)
        let result = try parseJSONObject(ordered.stdout)
        #expect(result["dnsNames"] as? [String] == ["dns.example.com", "*.dns.example.com"])
        let lines = String(decoding: try Data(contentsOf: log), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("add _acme-challenge.dns.example.com ") }.count == 2, "\(lines)")
        #expect(lines.filter { $0.hasPrefix("remove _acme-challenge.dns.example.com ") }.count == 2, "\(lines)")
        #expect(lines.firstIndex { $0.hasPrefix("remove") }! > lines.lastIndex { $0.hasPrefix("add") }!)
        // Each value is a base64url SHA-256 (43 characters).
        for line in lines { #expect(line.split(separator: " ").last?.count == 43, "\(line)") }
        #expect(try f.list().count == 1)

        // A hook that fails: the order fails before validation, the key goes to the trash.
        let failing = try f.dir.path("fail.sh").writing("#!/bin/sh\necho 'provider said no' >&2\nexit 3\n")
        chmod(failing.path, 0o755)
        let failed = try certstore(expecting: 2, ["acme", "order", "--dns-name", "other.example.com", "--dns-01-hook", failing.path] + f.args,
                                   timeout: 120)
        #expect(failed.stderr.contains("exit status 3"), "\(failed)")
        #expect(failed.stderr.contains("provider said no"), "\(failed)")
        #expect(try f.list().count == 1)
        let trash = try f.trash()
        let withKey = trash.filter { $0["keyInTrash"] as? Bool == true }
        #expect(withKey.count == 1 && withKey.first?["subject"] as? String == "CN=other.example.com", "\(trash)")
    }

    @Test("badNonce: Pebble rejecting every nonce makes register retry once with the fresh nonce, then fail cleanly (exit 2), nothing written")
    func badNonce() throws {
        let f = try Fixture("acme-nonce", environment: ["PEBBLE_WFE_NONCEREJECT": "100"], register: false)
        let failed = try certstore(expecting: 2, ["acme", "register", "--server", f.pebble.directoryURL, "--agree-tos",
                                                  "--ca-bundle", f.pebble.caBundle.path] + f.args)
        #expect(failed.stderr.contains("badNonce"), "\(failed)")
        #expect(failed.stderr.contains("retried once"), "\(failed)")
        #expect(!FileManager.default.fileExists(atPath: f.location.appendingPathComponent("acme.json").path))
        let log = f.pebble.stop()
        let attempts = log.split(separator: "\n").filter { $0.contains("POST /sign-me-up") }.count
        #expect(attempts == 2, "one request and one retry reached Pebble:\n\(log)")
    }

    @Test("revoke: Pebble revokes it (a second revoke is refused as alreadyRevoked), acme account marks it; bad reason and unknown thumbprint are errors")
    func revoke() throws {
        let f = try Fixture("acme-rev")
        let ordered = try f.order(["rev.example.com"], extra: ["--format", "json"])
        let thumbprint = try #require(try parseJSONObject(ordered.stdout)["thumbprint"] as? String)
        let bad = try certstore(expecting: 64, ["acme", "revoke", thumbprint, "--reason", "bored"] + f.args)
        #expect(bad.stderr.contains("unknown revocation reason"), "\(bad)")
        try certstore(expecting: 1, ["acme", "revoke", String(repeating: "AB", count: 20)] + f.args)
        let revoked = try certstore(expecting: 0, ["acme", "revoke", thumbprint, "--reason", "superseded"] + f.args)
        #expect(revoked.stdout.contains("Revoked \(thumbprint) (superseded)."), "\(revoked)")
        let again = try certstore(expecting: 2, ["acme", "revoke", thumbprint] + f.args)
        #expect(again.stderr.contains("alreadyRevoked"), "\(again)")
        let account = try certstore(expecting: 0, ["acme", "account"] + f.args)
        #expect(account.stdout.contains("REVOKED"), "\(account)")
        #expect(try f.list().count == 1, "revocation leaves the certificate in the store")
    }

    @Test("renew: nothing due by default (exit 0, nothing-due); --dry-run --days says what is due; --days renews with the same settings and hands over (bindings, default SMTP; old archived)")
    func renew() throws {
        let f = try Fixture("acme-renew")
        let plain = try parseJSONObject(try f.order(["plain.example.com"], extra: ["--key-type", "ec:p384", "--format", "json"]).stdout)["thumbprint"] as? String
        let bound = try parseJSONObject(try f.order(["bound.example.com"], extra: ["--services", "SMTP", "--format", "json"]).stdout)["thumbprint"] as? String
        let plainThumbprint = try #require(plain), boundThumbprint = try #require(bound)

        // Pebble's certificates are valid five years: nothing is due with a third of the lifetime as the rule.
        let quiet = try certstore(expecting: 0, ["acme", "renew", "--format", "json"] + f.args, timeout: 120)
        let quietReport = try parseJSONObject(quiet.stdout)
        #expect(quietReport["result"] as? String == "nothing-due", "\(quiet)")
        #expect((quietReport["certificates"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "not-due" } == true)
        let table = try certstore(expecting: 0, ["acme", "renew"] + f.args, timeout: 120)
        #expect(table.stdout.contains("not due: \(plainThumbprint) (plain.example.com): a third of its lifetime left: due from"), "\(table)")

        let dry = try parseJSONObject(try certstore(expecting: 0, ["acme", "renew", "--dry-run", "--days", "3000", "--format", "json"] + f.args).stdout)
        #expect(dry["result"] as? String == "due")
        #expect(try f.list().count == 2, "a dry run orders nothing")

        let renewed = try certstore(expecting: 0, ["acme", "renew", "--days", "3000", "--format", "json"] + f.args, timeout: 120)
        let report = try parseJSONObject(renewed.stdout)
        #expect(report["result"] as? String == "renewed", "\(renewed)")
        let entries = try #require(report["certificates"] as? [[String: Any]])
        let plainEntry = try #require(entries.first { $0["thumbprint"] as? String == plainThumbprint })
        let boundEntry = try #require(entries.first { $0["thumbprint"] as? String == boundThumbprint })
        #expect(plainEntry["status"] as? String == "renewed")
        #expect(boundEntry["status"] as? String == "renewed")
        #expect(boundEntry["handedOver"] as? Bool == true, "\(boundEntry)")
        let newPlain = try #require(plainEntry["renewedBy"] as? String)
        let newBound = try #require(boundEntry["renewedBy"] as? String)
        #expect(newPlain != plainThumbprint && newBound != boundThumbprint)
        // The handover moved SMTP and the default SMTP role to the renewal, and archived the old certificates.
        let bindings = try parseJSONObject(String(decoding: try #require(fileBytes(f.location.appendingPathComponent("bindings.json"))), as: UTF8.self))
        #expect("\(bindings)".contains(newBound) && !"\(bindings)".contains(boundThumbprint), "\(bindings)")
        #expect(renewed.stderr.contains("SMTP now presents \(newBound) (was \(boundThumbprint))"), "\(renewed)")
        let my = try f.list()
        #expect(Set(my.compactMap { $0["thumbprint"] as? String }) == [newPlain, newBound], "the old ones are archived (hidden): \(my)")
        let renewedCert = try #require(my.first { $0["thumbprint"] as? String == newPlain })
        #expect(renewedCert["dnsNameList"] as? [String] == ["plain.example.com"])
        #expect(renewedCert["hasPrivateKey"] as? Bool == true)
        let account = try parseJSONObject(try certstore(expecting: 0, ["acme", "account", "--format", "json"] + f.args).stdout)
        #expect((account["certificates"] as? [[String: Any]])?.count == 4)
        #expect((account["certificates"] as? [[String: Any]])?.first { $0["thumbprint"] as? String == newPlain }?["keyType"] as? String == "ec:p384",
                "renewed with the key type it was ordered with")

        // The renewed certificates are not renewed again; the new ones are not due.
        let after = try parseJSONObject(try certstore(expecting: 0, ["acme", "renew", "--format", "json"] + f.args, timeout: 120).stdout)
        #expect(after["result"] as? String == "nothing-due")
        #expect((after["certificates"] as? [[String: Any]])?.count == 2)
    }

    @Test("order --replaces: the new certificate takes over the old one's SMTP binding and default role, the old one is archived; an unknown thumbprint writes nothing")
    func orderReplaces() throws {
        let f = try Fixture("acme-repl")
        let old = try #require(try parseJSONObject(try f.order(["mx.example.com"], extra: ["--services", "SMTP", "--format", "json"]).stdout)["thumbprint"] as? String)
        let replaced = try f.order(["mx.example.com", "mx2.example.com"], extra: ["--replaces", old])
        let new = try #require(replaced.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(replaced.stdout.contains("Handed over from \(old):"), "\(replaced)")
        #expect(replaced.stderr.contains("SMTP now presents \(new) (was \(old))"), "\(replaced)")
        let bindings = try certstore(expecting: 0, ["bindings", "--format", "json"] + f.args).stdout
        #expect(bindings.contains(new) && !bindings.contains(old), "\(bindings)")
        #expect(try f.list().compactMap { $0["thumbprint"] as? String } == [new], "the old certificate is archived")

        let before = try DirectorySnapshot.take(f.location)
        let unknown = try certstore(expecting: 1, ["acme", "order", "--dns-name", "mx.example.com", "--http-01", "standalone:\(f.pebble.httpPort)",
                                                   "--replaces", String(repeating: "CD", count: 20)] + f.args)
        #expect(unknown.stderr.contains("not found"), "\(unknown)")
        #expect(try DirectorySnapshot.take(f.location) == before, "nothing written, not even a pending request")
    }

    @Test("renew verifies with the saved probe endpoints: a service still presenting the old certificate is NOT verified (exit 3); one its hook restarted is verified (exit 0)")
    func renewVerifies() throws {
        let f = try Fixture("acme-vfy")
        let old = try #require(try parseJSONObject(try f.order(["vfy.example.com"], extra: ["--services", "SMTP", "--format", "json"]).stdout)["thumbprint"] as? String)
        let current = f.location.appendingPathComponent("Services/SMTP/current")
        // A TLS server that read SMTP's files once and is never reloaded.
        let (stale, stalePort) = try BackgroundServer.opensslServer(cert: current.appendingPathComponent("fullchain.pem"),
                                                                    key: current.appendingPathComponent("privkey.pem"))
        defer { stale.stop() }
        try certstore(expecting: 0, ["probe", "smtps://127.0.0.1:\(stalePort)", "--save"] + f.args)
        let unverified = try certstore(expecting: 3, ["acme", "renew", "--days", "3000"] + f.args, timeout: 120)
        #expect(unverified.stdout.contains("NOT verified: smtps://127.0.0.1:\(stalePort) presents \(old), not "), "\(unverified)")
        let new = try #require(unverified.stdout.split(separator: " ").dropFirst(3).first.map(String.init))
        #expect(unverified.stdout.contains("renewed: \(old) → \(new) (vfy.example.com), handed over"), "\(unverified)")
        stale.stop()

        // A reload hook that restarts the server on the switched files: the next renewal is verified.
        let port = try Loopback.freePort()
        let pidFile = f.dir.path("server.pid")
        let hooks = f.location.appendingPathComponent("Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = try hooks.appendingPathComponent("10-restart").writing("""
            #!/bin/sh
            [ -f \(pidFile.path) ] && kill $(cat \(pidFile.path)) 2>/dev/null && sleep 0.3
            \(opensslBinary.path) s_server -accept 127.0.0.1:\(port) -cert \(current.path)/fullchain.pem -key \(current.path)/privkey.pem -quiet </dev/null >/dev/null 2>&1 &
            echo $! > \(pidFile.path)
            """)
        chmod(hook.path, 0o755)
        defer {
            if let pid = try? String(contentsOf: pidFile, encoding: .utf8), let number = Int32(pid.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(number, SIGKILL)
            }
        }
        let started = try runProgram(hook, [], timeout: 30)
        try #require(started.status == 0 && Loopback.waitUntilAccepting(port, timeout: 10), "\(started)")
        // Only the restarted server is probed from now on.
        try Data(#"{"endpoints":["smtps://127.0.0.1:\#(port)"]}"#.utf8).write(to: f.location.appendingPathComponent("probes.json"))
        let verified = try certstore(expecting: 0, ["acme", "renew", "--days", "3000", "--format", "json"] + f.args, timeout: 120)
        let report = try parseJSONObject(verified.stdout)
        #expect(report["result"] as? String == "renewed", "\(verified)")
        let checks = try #require(report["verifications"] as? [[String: Any]])
        #expect(checks.count == 1 && checks.first?["verified"] as? Bool == true, "\(checks)")
        #expect(checks.first?["presented"] as? String == checks.first?["expected"] as? String)
        #expect(checks.first?["presented"] as? String != new)
    }
}
