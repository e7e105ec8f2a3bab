import Foundation
import Testing

/// ACME end to end on a real mail server: Pebble issues, postfix (on loopback) serves what `acme order --services
/// SMTP` bound; `acme order --replaces` hands over and the reload hook makes postfix serve the new certificate, read
/// back by `certstore probe` and `openssl s_client`; `acme renew` then verifies through the saved probe endpoint.
@Suite("ACME with postfix on loopback: --replaces and renew reach the live service", .serialized,
       .enabled(if: PostfixTests.available && PebbleBinaries.installed, "needs root, postfix and Debian's pebble (make service-deps acme-deps)"))
struct PostfixACMETests {
    @Test("order --services SMTP → postfix serves it; order --replaces → handed over, reloaded, postfix serves the new one; acme renew → verified on postfix (exit 0)")
    func replacesReachesPostfix() throws {
        let t = try TestDirectory("pf-acme")
        let pebble = try PebbleServer(in: t.path("pebble"))
        defer { pebble.stop() }
        let root = t.rootPath
        let args = ["--root", root]
        try certstore(expecting: 0, ["acme", "register", "--server", pebble.directoryURL, "--agree-tos", "--ca-bundle", pebble.caBundle.path] + args)
        func order(_ extra: [String]) throws -> CommandResult {
            try certstore(expecting: 0, ["acme", "order", "--dns-name", "mail.example.org", "--http-01", "standalone:\(pebble.httpPort)", "--format", "json"]
                          + extra + args, timeout: 120)
        }
        let old = try #require(try parseJSONObject(order(["--services", "SMTP"]).stdout)["thumbprint"] as? String)

        let instance = try PostfixTests.Instance(in: t.path("pf"), serviceConfig: "")
        try instance.followStore(root)
        try instance.start()
        let served = try PostfixTests.waitUntilServed(old, port: instance.port, root: root)
        #expect(served.openssl == old, "openssl s_client saw \(served.openssl ?? "nothing")\n\(instance.log())")

        // --replaces: the new certificate takes over SMTP; the hook reloads postfix, which then serves it.
        let replaced = try parseJSONObject(order(["--replaces", old]).stdout)
        let new = try #require(replaced["thumbprint"] as? String)
        #expect(new != old)
        let switched = try PostfixTests.waitUntilServed(new, port: instance.port, root: root)
        #expect(switched.openssl == new, "openssl s_client saw \(switched.openssl ?? "nothing")\n\(instance.log())")
        #expect(switched.probe.stdout.contains("\"thumbprint\" : \"\(new)\""), "\(switched.probe)")

        // acme renew with postfix's endpoint saved: the renewal is reported only once postfix presents it.
        try certstore(expecting: 0, ["probe", "smtp://127.0.0.1:\(instance.port)", "--save"] + args)
        let renewed = try certstore(expecting: 0, ["acme", "renew", "--days", "3000", "--format", "json"] + args, timeout: 180)
        let report = try parseJSONObject(renewed.stdout)
        #expect(report["result"] as? String == "renewed", "\(renewed)")
        let checks = try #require(report["verifications"] as? [[String: Any]], "\(renewed)")
        #expect(checks.count == 1 && checks.first?["verified"] as? Bool == true, "\(checks)")
        let presented = try #require(checks.first?["presented"] as? String)
        #expect(presented != new && presented != old)
        #expect(try PostfixTests.servedByOpenSSL(port: instance.port) == presented, "\(instance.log())")
    }
}
