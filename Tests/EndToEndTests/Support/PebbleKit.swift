import Foundation
import Testing

// A real ACME server for the ACME tests: Debian's `pebble` (2.4.0) and `pebble-challtestsrv` (its DNS), on
// loopback with free ports, installed by `make acme-deps` (which `make test` and `.ci/run` reach).
//
// Pebble's validation authority really connects: for http-01 it resolves the name through challtestsrv's DNS
// (every A query answers 127.0.0.1, no AAAA) and fetches http://NAME:httpPort/.well-known/acme-challenge/TOKEN,
// where certstore's standalone listener (or the test's webroot server) answers; for dns-01 it looks up the TXT
// record the hook set through challtestsrv's management API. PEBBLE_VA_NOSLEEP=1 only drops Pebble's random
// validation delay; PEBBLE_VA_ALWAYS_VALID is never set.

/// Where Debian's pebble binaries are, or nil when the package is not installed.
enum PebbleBinaries {
    static let pebble = URL(fileURLWithPath: "/usr/bin/pebble")
    static let challtestsrv = URL(fileURLWithPath: "/usr/bin/pebble-challtestsrv")
    static var installed: Bool {
        FileManager.default.isExecutableFile(atPath: pebble.path) && FileManager.default.isExecutableFile(atPath: challtestsrv.path)
    }
}

/// One Pebble + challtestsrv pair on loopback, stopped (SIGKILL, reaped) by `stop()` or on deinit.
final class PebbleServer {
    /// The ACME directory URL (`https://127.0.0.1:PORT/dir`).
    let directoryURL: String
    /// The CA bundle that verifies Pebble's listener certificate (generated for this run): `--ca-bundle`.
    let caBundle: URL
    /// The port Pebble's VA connects to for http-01 (certstore's standalone listener or a webroot server binds it).
    let httpPort: UInt16
    /// challtestsrv's management API (`/set-txt`, `/clear-txt`), plain HTTP.
    let challengeManagementURL: String
    /// Pebble's management API (HTTPS, same CA bundle): `/roots/0` is the issuing root of this run.
    let managementURL: String
    private let pebble: BackgroundServer
    private let challtestsrv: BackgroundServer
    private var stoppedOutput: String?

    /// Starts challtestsrv then Pebble in `directory`, with `environment` added to Pebble's (e.g.
    /// `PEBBLE_WFE_NONCEREJECT`). Nonces are never rejected unless asked (Pebble rejects 5% by default), so a test
    /// that does not test badNonce does not fail by chance, and authorizations are never reused (every order is
    /// validated). Waits until both accept connections (10 s at most).
    init(in directory: URL, environment: [String: String] = [:]) throws {
        guard PebbleBinaries.installed else { throw RunnerError("Debian's pebble is not installed: run `make acme-deps`") }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The listener's certificate: a throwaway CA and a leaf for 127.0.0.1 and localhost.
        let ca = directory.appendingPathComponent("listener-ca.pem"), caKey = directory.appendingPathComponent("listener-ca.key")
        let cert = directory.appendingPathComponent("listener.pem"), key = directory.appendingPathComponent("listener.key")
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey.path,
                     "-out", ca.path, "-days", "2", "-subj", "/CN=certstore test Pebble listener CA"], in: directory)
        let csr = directory.appendingPathComponent("listener.csr")
        try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.path,
                     "-out", csr.path, "-subj", "/CN=localhost"], in: directory)
        let extensions = try directory.appendingPathComponent("listener.ext").writing(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n")
        try openssl(["x509", "-req", "-in", csr.path, "-CA", ca.path, "-CAkey", caKey.path, "-CAcreateserial", "-days", "2",
                     "-extfile", extensions.path, "-out", cert.path], in: directory)
        caBundle = ca

        var lastFailure = ""
        for _ in 0..<3 {
            let listen = try Loopback.freePort(), management = try Loopback.freePort(), http = try Loopback.freePort()
            let tls = try Loopback.freePort(), dns = try Loopback.freePort(), challengeManagement = try Loopback.freePort()
            let config: [String: Any] = ["pebble": [
                "listenAddress": "127.0.0.1:\(listen)", "managementListenAddress": "127.0.0.1:\(management)",
                "certificate": cert.path, "privateKey": key.path, "httpPort": Int(http), "tlsPort": Int(tls),
                "ocspResponderURL": "", "externalAccountBindingRequired": false,
            ]]
            let configFile = directory.appendingPathComponent("pebble-config.json")
            try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: configFile)
            // challtestsrv: DNS only (its own http-01/tls-alpn-01 listeners would take the ports certstore answers on).
            let dnsServer = BackgroundServer("pebble-challtestsrv", try RunningProcess(
                executable: PebbleBinaries.challtestsrv,
                arguments: ["-dns01", "127.0.0.1:\(dns)", "-http01", "", "-https01", "", "-tlsalpn01", "",
                            "-management", "127.0.0.1:\(challengeManagement)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]))
            guard Loopback.waitUntilAccepting(challengeManagement, timeout: 10) else {
                lastFailure = "pebble-challtestsrv did not start:\n\(dnsServer.stop())"
                continue
            }
            var env = ProcessInfo.processInfo.environment
            env["PEBBLE_VA_NOSLEEP"] = "1"
            env["PEBBLE_WFE_NONCEREJECT"] = "0"
            // Pebble reuses a valid authorization half of the time: every order here proves its names anew.
            env["PEBBLE_AUTHZREUSE"] = "0"
            env.removeValue(forKey: "PEBBLE_VA_ALWAYS_VALID")
            for (name, value) in environment { env[name] = value }
            let server = BackgroundServer("pebble", try RunningProcess(
                executable: PebbleBinaries.pebble, arguments: ["-config", configFile.path, "-dnsserver", "127.0.0.1:\(dns)"],
                environment: env, currentDirectory: directory))
            guard Loopback.waitUntilAccepting(listen, timeout: 10), Loopback.waitUntilAccepting(management, timeout: 10) else {
                lastFailure = "pebble did not start:\n\(server.stop())\n\(dnsServer.stop())"
                continue
            }
            pebble = server
            challtestsrv = dnsServer
            directoryURL = "https://127.0.0.1:\(listen)/dir"
            managementURL = "https://127.0.0.1:\(management)"
            challengeManagementURL = "http://127.0.0.1:\(challengeManagement)"
            httpPort = http
            return
        }
        throw RunnerError(lastFailure)
    }

    /// Stops both servers (idempotent) and returns what Pebble logged (one line per request it served).
    @discardableResult
    func stop() -> String {
        if let stoppedOutput { return stoppedOutput }
        let output = pebble.stop()
        challtestsrv.stop()
        stoppedOutput = output.stdout + output.stderr
        return stoppedOutput!
    }

    deinit { stop() }
}

extension URL {
    /// Writes `text` to this file and returns it.
    func writing(_ text: String) throws -> URL {
        try Data(text.utf8).write(to: self)
        return self
    }
}
