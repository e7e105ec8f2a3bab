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
    /// Its directory's path must stay short: postfix's UNIX sockets live under the queue directory (108 bytes).
    final class Instance {
        let directory: URL
        let port: UInt16
        var config: URL { directory.appendingPathComponent("conf") }
        private var started = false

        init(in directory: URL, serviceConfig: String, master extra: String = "", hostName: String = "mail.contoso.com") throws {
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
                myhostname = \(hostName)
                mydestination =
                maillog_file_prefixes = \(directory.path)
                maillog_file = \(directory.path)/maillog
                \(serviceConfig)

                """
            try Data(main.utf8).write(to: config.appendingPathComponent("main.cf"))
            let master = try String(contentsOfFile: "/etc/postfix/master.cf", encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("smtp      inet") ? "127.0.0.1:\(port) inet n - n - - smtpd" : String($0) }
                .joined(separator: "\n") + "\n" + extra
            try Data(master.utf8).write(to: config.appendingPathComponent("master.cf"))
        }

        func command(_ verb: String) throws -> CommandResult {
            try runProgram(PostfixTests.postfix, ["-c", config.path, verb], timeout: 60)
        }

        func start() throws {
            let result = try command("start")
            guard result.status == 0 else {
                let check = try? command("check")
                throw RunnerError("postfix start failed:\n\(result)\n\(log())\n\(check.map { "\($0)" } ?? "")")
            }
            started = true
        }

        func log() -> String { (try? String(contentsOfFile: directory.path + "/maillog", encoding: .utf8)) ?? "" }

        /// Applies what `certstore service-config postfix` prints for the store at `root` (postconf -e, line by
        /// line), and installs a store hook that reloads this instance when SMTP's files switch.
        func followStore(_ root: String) throws {
            let printed = try certstore(expecting: 0, ["service-config", "postfix", "--config", config.path, "--root", root]).stdout
            for line in printed.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
                let applied = try runProgram(URL(fileURLWithPath: "/usr/sbin/postconf"), ["-c", config.path, "-e", String(line)])
                guard applied.status == 0 else { throw RunnerError("postconf -e failed:\n\(applied)") }
            }
            let hooks = URL(fileURLWithPath: "\(root)/LocalMachine/Hooks")
            try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
            let hook = hooks.appendingPathComponent("10-reload-postfix")
            try Data("#!/bin/sh\n[ \"$CERTSTORE_SERVICE\" = SMTP ] || exit 0\n\(PostfixTests.postfix.path) -c \(config.path) reload\n".utf8).write(to: hook)
            chmod(hook.path, 0o755)
        }

        /// Waits (bounded) until the log has a line containing every one of `parts`; returns that line.
        func waitForLog(_ parts: [String], timeout: Double = 30) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            repeat {
                if let line = log().split(separator: "\n").last(where: { line in parts.allSatisfy(line.contains) }) { return String(line) }
                usleep(200_000)
            } while Date() < deadline
            return nil
        }

        /// Submits one message through this instance's sendmail.
        func send(to recipient: String, subject: String) throws {
            let message = "From: admin@contoso.com\nTo: \(recipient)\nSubject: \(subject)\n\ncertstore test\n"
            let result = try runProgram(URL(fileURLWithPath: "/usr/sbin/sendmail"), ["-C", config.path, "-f", "admin@contoso.com", recipient],
                                        stdin: .text(message), timeout: 30)
            guard result.status == 0 else { throw RunnerError("sendmail failed:\n\(result)") }
        }

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
        try certstore(expecting: 0, ["import", try pki.cer(keyless).path, "--allow-keyless", "--root", root])
        let refused = try certstore(expecting: 2, ["enable", keyless.thumbprint, "--services", "SMTP", "--overwrite-default", "--root", root])
        #expect(refused.stderr.contains("reason: PrivateKeyMissing"))
        #expect(try Self.servedByOpenSSL(port: instance.port) == b.thumbprint)
        let deployed = try String(contentsOfFile: "\(root)/LocalMachine/Services/SMTP/current/thumbprint", encoding: .utf8)
        #expect(deployed.trimmingCharacters(in: .whitespacesAndNewlines) == b.thumbprint)
    }

    /// A receiving postfix that asks every client for a certificate and logs its SHA-1 fingerprint (loglevel 2).
    static func receiver(in directory: URL, pki: TestPKI) throws -> Instance {
        let cert = try pki.issue("mx-fabrikam", subject: "/O=Fabrikam/CN=mx.fabrikam.com", dnsNames: ["mx.fabrikam.com"])
        let key = try #require(cert.key)
        return try Instance(in: directory, serviceConfig: """
            mydestination = fabrikam.com
            local_recipient_maps =
            local_transport = discard:
            smtpd_tls_chain_files = \(key.path), \(cert.pem.path)
            smtpd_tls_security_level = may
            smtpd_tls_ask_ccert = yes
            smtpd_tls_loglevel = 2
            smtpd_tls_fingerprint_digest = sha1
            """, hostName: "mx.fabrikam.com")
    }

    static func colonFingerprint(_ thumbprint: String) -> String {
        stride(from: 0, to: thumbprint.count, by: 2).map { offset -> String in
            let start = thumbprint.index(thumbprint.startIndex, offsetBy: offset)
            return String(thumbprint[start..<thumbprint.index(start, offsetBy: 2)])
        }.joined(separator: ":")
    }

    @Test("a send connector drives postfix's outbound TLS: keyless → mail defers with a TLS error (NoCredentials); remove the keyless twin → the queue delivers, presenting the twin",
          .enabled(if: PostfixTests.available, "needs root and /usr/sbin/postfix (apt-get install postfix)"))
    func sendConnectorDrivesOutboundTLS() throws {
        // The KB machine: EXCH01 default SMTP; mail.contoso.com keyless in My; its renewed twin (with key, enabled
        // for SMTP) imported after it, so the connector's TLSCertificateName resolves to the keyless one.
        let m = try KBMachine.build("pfc")
        try m.importTwin()
        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        let receiver = try Self.receiver(in: m.t.path("rx"), pki: m.pki)
        try receiver.start()
        try certstore(expecting: 0, ["connector", "set", KBMachine.connector, "--address-space", "fabrikam.com",
                                     "--smart-host", "[127.0.0.1]:\(receiver.port)"] + m.args)

        let connectorFiles = m.location.appendingPathComponent("Services/Connectors/outbound-to-office-365/current")
        let status = try String(contentsOf: connectorFiles.appendingPathComponent("status"), encoding: .utf8)
        #expect(status.hasPrefix("NoCredentials"), "\(status)")
        #expect(!FileManager.default.fileExists(atPath: connectorFiles.appendingPathComponent("privkey.pem").path))

        // The sender: certstore's main.cf lines, its master.cf transport, its transport map.
        let master = try certstore(expecting: 0, ["service-config", "postfix", "--master-cf"] + m.args).stdout
        #expect(master.contains("certstore-outbound-to-office-365 unix - - n - - smtp"), "\(master)")
        #expect(master.contains("smtp_tls_chain_files=\(connectorFiles.path)/smtp-client.pem"), "\(master)")
        let map = try certstore(expecting: 0, ["service-config", "postfix", "--transport-map"] + m.args).stdout
        #expect(map == "fabrikam.com certstore-outbound-to-office-365:[127.0.0.1]:\(receiver.port)\n", "\(map)")
        let transport = m.t.path("transport")
        try Data(map.utf8).write(to: transport)
        let sender = try Instance(in: m.t.path("tx"), serviceConfig: "transport_maps = texthash:\(transport.path)\n", master: master)
        // certstore's main.cf lines, planned against the sender's own main.cf and applied with postconf -e.
        let main = try certstore(expecting: 0, ["service-config", "postfix", "--config", sender.config.path] + m.args).stdout
        #expect(main.contains("#   certstore service-config postfix --master-cf   to master.cf"), "\(main)")
        for line in main.split(separator: "\n") where !line.hasPrefix("#") {
            let applied = try runProgram(URL(fileURLWithPath: "/usr/sbin/postconf"), ["-c", sender.config.path, "-e", String(line)])
            #expect(applied.status == 0, "\(applied)")
        }
        try sender.start()

        // A deploy hook reloads the sender when the connector's files switch (CERTSTORE_CONNECTOR names it).
        let hooks = m.location.appendingPathComponent("Hooks")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        let hook = hooks.appendingPathComponent("10-reload-postfix")
        try Data("#!/bin/sh\n[ -n \"$CERTSTORE_CONNECTOR\" ] || exit 0\n\(Self.postfix.path) -c \(sender.config.path) reload\n".utf8).write(to: hook)
        chmod(hook.path, 0o755)

        // Keyless: the connector's transport cannot load a key, TLS is required there, the mail defers.
        try sender.send(to: "user@fabrikam.com", subject: "while keyless")
        let deferred = sender.waitForLog(["postfix/certstore-outbound-to-office-365/smtp", "status=deferred"])
        #expect(deferred?.contains("TLS is required, but our TLS engine is unavailable") == true, "\(sender.log())")
        #expect(sender.log().contains("error loading private keys and certificates from: \(connectorFiles.path)/smtp-client.pem"), "\(sender.log())")
        #expect(!receiver.log().contains("fingerprint="), "nothing reached the receiver with a client certificate: \(receiver.log())")

        // diagnose reads that log: the connector, the keyless certificate it resolves to, and the plan.
        let maillog = sender.directory.appendingPathComponent("maillog").path
        let explained = try certstore(expecting: 1, ["diagnose", "--log", maillog] + m.args)
        #expect(explained.stdout.contains("send connector \"\(KBMachine.connector)\"'s transport (postfix/certstore-outbound-to-office-365/smtp)"), "\(explained)")
        #expect(explained.stdout.contains("resolves to \(m.keyless.thumbprint)") && explained.stdout.contains("NoCredentials (KB 4495258)"), "\(explained)")
        #expect(explained.stdout.contains("certstore --root \(m.t.rootPath) remove \(m.keyless.thumbprint)"), "\(explained)")

        // The KB fix: remove the keyless certificate; the twin takes over, the connector's files switch, the hook reloads.
        let removed = try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        #expect(removed.stderr.contains("send connector \"\(KBMachine.connector)\" now presents \(m.twin.thumbprint)"), "\(removed)")
        #expect(removed.stderr.contains("hook 10-reload-postfix (SMTP): ok"), "\(removed)")
        #expect(try String(contentsOf: connectorFiles.appendingPathComponent("status"), encoding: .utf8) == "Works\n")

        _ = try runProgram(URL(fileURLWithPath: "/usr/sbin/postqueue"), ["-c", sender.config.path, "-f"], timeout: 30)
        let sent = sender.waitForLog(["postfix/certstore-outbound-to-office-365/smtp", "status=sent"])
        #expect(sent != nil, "\(sender.log())")
        let seen = receiver.waitForLog(["fingerprint=\(Self.colonFingerprint(m.twin.thumbprint))"])
        let after = try certstore(expecting: 1, ["diagnose", "--log", maillog] + m.args)
        #expect(after.stdout.contains("now resolves to \(m.twin.thumbprint)") && after.stdout.contains("the store was fixed after this failure"), "\(after)")
        #expect(seen != nil, "the receiver saw the twin as client certificate:\n\(receiver.log())")
    }
}
