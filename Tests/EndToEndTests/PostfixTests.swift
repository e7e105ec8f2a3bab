import Foundation
import Testing

/// A real postfix on loopback reads the files certstore keeps for SMTP; a binding switched twice (with a
/// reload hook) changes what it presents, read back over STARTTLS by certstore's probe and by
/// `openssl s_client`. Needs root and Debian's postfix (installed by .ci/run); skipped otherwise.
@Suite("postfix on loopback", .serialized)
struct PostfixTests {
    static let postfix = URL(fileURLWithPath: "/usr/sbin/postfix")
    static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: postfix.path) }

    /// A private postfix instance: its own config, queue and data directories, smtpd on 127.0.0.1:PORT only.
    final class Instance {
        let directory: URL
        let port: UInt16
        var config: URL { directory.appendingPathComponent("conf") }
        private var started = false

        init(in directory: URL, serviceConfig: String) throws {
            self.directory = directory
            port = try Loopback.freePort()
            let fm = FileManager.default
            for name in ["conf", "queue", "data"] {
                try fm.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
            }
            guard let postfixUser = getpwnam("postfix") else { throw RunnerError("no postfix account") }
            chown(directory.appendingPathComponent("data").path, postfixUser.pointee.pw_uid, postfixUser.pointee.pw_gid)
            let main = """
                compatibility_level = 3.6
                queue_directory = \(directory.path)/queue
                data_directory = \(directory.path)/data
                mail_owner = postfix
                setgid_group = postdrop
                inet_interfaces = 127.0.0.1
                inet_protocols = ipv4
                myhostname = mail.contoso.com
                mydestination =
                maillog_file_prefixes = \(directory.path)
                maillog_file = \(directory.path)/maillog
                \(serviceConfig)
                """
            try Data(main.utf8).write(to: config.appendingPathComponent("main.cf"))
            let master = try String(contentsOfFile: "/etc/postfix/master.cf", encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("smtp      inet") ? "127.0.0.1:\(port) inet n - n - - smtpd" : String($0) }
                .joined(separator: "\n")
            try Data(master.utf8).write(to: config.appendingPathComponent("master.cf"))
        }

        func command(_ verb: String) throws -> CommandResult {
            try runProgram(PostfixTests.postfix, ["-c", config.path, verb], timeout: 60)
        }

        func start() throws {
            let result = try command("start")
            guard result.status == 0 else { throw RunnerError("postfix start failed:\n\(result)\n\(log())") }
            started = true
        }

        func log() -> String { (try? String(contentsOfFile: directory.path + "/maillog", encoding: .utf8)) ?? "" }

        deinit { if started { _ = try? command("stop") } }
    }

    /// What postfix presents now, read by an independent client: `openssl s_client -starttls smtp`.
    static func servedByOpenSSL(port: UInt16) throws -> String? {
        let script = "echo QUIT | timeout 10 openssl s_client -starttls smtp -connect 127.0.0.1:\(port) 2>/dev/null | openssl x509 -noout -fingerprint -sha1"
        let result = try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", script], timeout: 30)
        return result.stdout.split(separator: "=").last.map { $0.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Polls until `expected` is served (a reload lets busy smtpd processes finish first).
    static func waitUntilServed(_ expected: String, port: UInt16, root: String) throws -> (probe: CommandResult, openssl: String?) {
        var last: (CommandResult, String?)? = nil
        for _ in 0..<40 {
            let probe = try certstore(["probe", "smtp://127.0.0.1:\(port)", "--format", "json", "--timeout", "5", "--root", root])
            let independent = try servedByOpenSSL(port: port)
            last = (probe, independent)
            if independent == expected, probe.stdout.contains("\"thumbprint\" : \"\(expected)\"") { return (probe, independent) }
            usleep(250_000)
        }
        return last!
    }

    @Test("bind A: postfix serves A; bind B with a reload hook: postfix serves B; a keyless certificate is refused and B stays",
          .enabled(if: PostfixTests.available, "needs root and /usr/sbin/postfix (apt-get install postfix)"))
    func bindingSwitchesWhatPostfixServes() throws {
        let t = try TestDirectory("postfix")
        let pki = try TestPKI(in: t.path("pki"))
        let root = t.rootPath
        let a = try pki.issue("mail-a", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let b = try pki.issue("mail-b", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        let keyless = try pki.issue("mail-c", subject: TestPKI.mailSubject, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root", "--root", root])
        try certstore(expecting: 0, ["import", try pki.withKey(a).path, "--root", root])
        try certstore(expecting: 0, ["enable", a.thumbprint, "--services", "SMTP", "--root", root])
        #expect(FileManager.default.fileExists(atPath: "\(root)/LocalMachine/Services/SMTP/current/privkey.pem"))

        // The instance's own main.cf is the live configuration: service-config reads it, its lines go in through
        // `postconf -e` (as the manual says), and --check then finds it in line.
        let instance = try Instance(in: t.path("postfix"), serviceConfig: "")
        let config = try certstore(expecting: 0, ["service-config", "postfix", "--config", instance.config.path, "--root", root]).stdout
        #expect(config.contains("smtpd_tls_chain_files = \(root)/LocalMachine/Services/SMTP/current/privkey.pem"))
        #expect(config.contains("\nsmtpd_tls_security_level = may\n"), "raised from none (not set): \(config)")
        try certstore(expecting: 1, ["service-config", "postfix", "--check", "--config", instance.config.path, "--root", root])
        for line in config.split(separator: "\n") where !line.hasPrefix("#") {
            let applied = try runProgram(URL(fileURLWithPath: "/usr/sbin/postconf"), ["-c", instance.config.path, "-e", String(line)])
            #expect(applied.status == 0, "\(applied)")
        }
        try certstore(expecting: 0, ["service-config", "postfix", "--check", "--config", instance.config.path, "--root", root])
        try instance.start()

        let first = try Self.waitUntilServed(a.thumbprint, port: instance.port, root: root)
        #expect(first.openssl == a.thumbprint, "openssl s_client saw \(first.openssl ?? "nothing")\n\(instance.log())")
        #expect(first.probe.status == 0, "\(first.probe)")

        // A deploy hook reloads this postfix when SMTP's files switch.
        let hooks = URL(fileURLWithPath: "\(root)/LocalMachine/Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = hooks.appendingPathComponent("10-reload-postfix")
        try Data("#!/bin/sh\n[ \"$CERTSTORE_SERVICE\" = SMTP ] || exit 0\n\(Self.postfix.path) -c \(instance.config.path) reload\n".utf8).write(to: hook)
        chmod(hook.path, 0o755)

        try certstore(expecting: 0, ["import", try pki.withKey(b).path, "--root", root])
        let switched = try certstore(expecting: 0, ["enable", b.thumbprint, "--services", "SMTP", "--overwrite-default", "--root", root])
        #expect(switched.stderr.contains("SMTP now presents \(b.thumbprint)"), "\(switched)")
        #expect(switched.stderr.contains("hook 10-reload-postfix (SMTP): ok"), "\(switched)")
        let second = try Self.waitUntilServed(b.thumbprint, port: instance.port, root: root)
        #expect(second.openssl == b.thumbprint, "openssl s_client saw \(second.openssl ?? "nothing")\n\(instance.log())")
        #expect(second.probe.status == 0, "\(second.probe)")

        // The keyless certificate cannot be bound, and postfix keeps serving B.
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--root", root])
        let refused = try certstore(expecting: 2, ["enable", keyless.thumbprint, "--services", "SMTP", "--overwrite-default", "--root", root])
        #expect(refused.stderr.contains("reason: PrivateKeyMissing"))
        #expect(try Self.servedByOpenSSL(port: instance.port) == b.thumbprint)
        let deployed = try String(contentsOfFile: "\(root)/LocalMachine/Services/SMTP/current/thumbprint", encoding: .utf8)
        #expect(deployed.trimmingCharacters(in: .whitespacesAndNewlines) == b.thumbprint)
    }
}
