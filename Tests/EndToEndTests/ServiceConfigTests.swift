import Foundation
import Testing

/// `service-config` against the daemons' own tools on private configurations: postconf, doveconf, exim (Debian's
/// binary unpacked by `make service-deps`, never installed), `apache2 -t`, `haproxy -c`. The lines it prints are
/// applied the way the manual says, the daemon's tool reads the result, and `--check` then says it is in line;
/// a stricter security level survives the whole round.
@Suite("service-config against live configurations", .serialized)
struct ServiceConfigTests {
    /// An executable in PATH or the sbin directories.
    static func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Debian's exim4 as `make service-deps` unpacks it (exim4 conflicts with postfix as the MTA), else one installed.
    static var exim: String? {
        let unpacked = packageRoot.appendingPathComponent(".build-deps/exim4/usr/sbin/exim4").path
        return FileManager.default.isExecutableFile(atPath: unpacked) ? unpacked : tool("exim4")
    }
    static var isRoot: Bool { getuid() == 0 }

    /// A store with a certificate bound to SMTP, IMAP and IIS.
    static func boundMachine(_ label: String) throws -> (ServicesTests.Machine, TestPKI.Cert) {
        let m = try ServicesTests.Machine(label)
        let cert = try m.add("mail")
        try m.enable(cert, "SMTP,IMAP,IIS")
        return (m, cert)
    }

    static func write(_ text: String, _ path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func settingLines(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> CommandResult {
        try runProgram(URL(fileURLWithPath: tool), arguments, timeout: 60)
    }

    // MARK: postfix

    @Test("postfix: smtp_tls_security_level = dane and smtpd encrypt survive; the printed lines go through postconf -e; --check drifts, then is in line, as text and json",
          .enabled(if: tool("postconf") != nil, "needs postconf (apt-get install postfix)"))
    func postfixKeepsDane() throws {
        let postconf = try #require(Self.tool("postconf"))
        let (m, _) = try Self.boundMachine("svc-config-postfix")
        let smtp = m.current("SMTP").path
        let directory = m.t.path("postfix").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.write("""
            compatibility_level = 3.6
            smtp_tls_security_level = dane
            smtpd_tls_security_level = encrypt
            smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
            smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key

            """, directory + "/main.cf")

        let drift = try certstore(expecting: 1, ["service-config", "postfix", "--check", "--config", directory] + m.args)
        #expect(drift.stdout.contains("drift: smtpd_tls_chain_files not set: postfix does not read SMTP's files (certstore requires \(smtp)/privkey.pem, \(smtp)/fullchain.pem)\n"), "\(drift)")
        #expect(!drift.stdout.contains("security_level"), "dane and encrypt are not drift: \(drift)")
        #expect(drift.stderr.contains("service-config postfix --config \(directory)` prints the lines that fix them"), "\(drift)")

        let output = try certstore(expecting: 0, ["service-config", "postfix", "--config", directory] + m.args).stdout
        let lines = Self.settingLines(output)
        #expect(!lines.contains { $0.contains("security_level") }, "never lowers dane/encrypt: \(output)")
        #expect(output.contains("# Kept: smtp_tls_security_level = dane is stricter than may; certstore never lowers a security level."), "\(output)")
        #expect(output.contains("# Kept: smtpd_tls_security_level = encrypt is stricter than may"), "\(output)")
        #expect(lines.contains("smtpd_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem"), "\(output)")
        // As the manual says: every setting line through postconf -e.
        for line in lines {
            let applied = try Self.run(postconf, ["-c", directory, "-e", line])
            #expect(applied.status == 0, "\(applied)")
        }
        #expect(try Self.run(postconf, ["-c", directory, "-h", "smtp_tls_security_level"]).stdout == "dane\n")
        #expect(try Self.run(postconf, ["-c", directory, "-h", "smtpd_tls_security_level"]).stdout == "encrypt\n")

        let inLine = try certstore(expecting: 0, ["service-config", "postfix", "--check", "--config", directory] + m.args)
        #expect(inLine.stdout == "in line: postfix (postconf -c \(directory) -n -x) reads SMTP's files at the levels certstore requires\n", "\(inLine)")
        let nothing = try certstore(expecting: 0, ["service-config", "postfix", "--config", directory] + m.args).stdout
        #expect(Self.settingLines(nothing).isEmpty && nothing.contains("# Nothing to change"), "\(nothing)")
        let json = try certstore(expecting: 0, ["service-config", "postfix", "--check", "--format", "json", "--config", directory] + m.args)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["inLine"] as? Bool == true && (object["drifts"] as? [Any])?.isEmpty == true, "\(json)")
        #expect(object["daemon"] as? String == "postfix" && object["service"] as? String == "SMTP")

        // Someone lowers the server's level and points the client elsewhere: two drifts, and the plan raises only what is weaker.
        #expect(try Self.run(postconf, ["-c", directory, "-e", "smtpd_tls_security_level = none", "smtp_tls_chain_files = /etc/ssl/k.pem, /etc/ssl/c.pem"]).status == 0)
        let again = try certstore(expecting: 1, ["service-config", "postfix", "--check", "--format", "json", "--config", directory] + m.args)
        let drifts = try #require((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])?["drifts"] as? [[String: Any]])
        #expect(drifts.compactMap { $0["setting"] as? String } == ["smtp_tls_chain_files", "smtpd_tls_security_level"], "\(again)")
        #expect(drifts.last?["live"] as? String == "none" && drifts.last?["required"] as? String == "may or stricter")
        let fix = Self.settingLines(try certstore(expecting: 0, ["service-config", "postfix", "--config", directory] + m.args).stdout)
        #expect(fix == ["smtp_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem", "smtpd_tls_security_level = may"], "\(fix)")
    }

    @Test("error paths: a --config that cannot be read is 66 (never a silent fallback); --check with nothing to read is 66; --check --format csv is 64")
    func errorPaths() throws {
        let m = try ServicesTests.Machine("svc-config-errors")
        if Self.tool("postconf") != nil {
            let missing = try certstore(expecting: 66, ["service-config", "postfix", "--config", m.t.path("no-such-dir").path] + m.args)
            #expect(missing.stdout.isEmpty && missing.stderr.contains("cannot read postfix's configuration \(m.t.path("no-such-dir").path): `postconf -c"), "\(missing)")
            #expect(missing.stderr.contains("No such file or directory"), "postconf's own reason: \(missing)")
        }
        if Self.tool("doveconf") != nil {
            try Self.write("ssl = maybe\nnot a setting\n", m.t.path("broken.conf").path)
            let broken = try certstore(expecting: 66, ["service-config", "dovecot", "--config", m.t.path("broken.conf").path] + m.args)
            #expect(broken.stderr.contains("cannot read dovecot's configuration"), "\(broken)")
        }
        let unnamed = try certstore(expecting: 66, ["service-config", "nginx", "--check"] + m.args)
        #expect(unnamed.stdout.isEmpty && unnamed.stderr.contains("cannot check nginx") && unnamed.stderr.contains("--config"), "\(unnamed)")
        let full = try certstore(expecting: 0, ["service-config", "haproxy"] + m.args).stdout
        #expect(full.contains("# The live configuration could not be read (tried nothing: haproxy holds a certificate per server block: name the file"), "\(full)")
        let absent = try certstore(expecting: 66, ["service-config", "apache2", "--config", m.t.path("absent.conf").path] + m.args)
        #expect(absent.stderr.contains("cannot read apache2's configuration"), "\(absent)")
        let csv = try certstore(expecting: 64, ["service-config", "postfix", "--check", "--format", "csv"] + m.args)
        #expect(csv.stderr.contains("--check prints text or json"), "\(csv)")
        let noStore = try certstore(expecting: 66, ["service-config", "postfix", "--root", m.t.path("nowhere").path])
        #expect(noStore.stderr.contains("there is no store"), "\(noStore)")
    }

    // MARK: dovecot

    @Test("dovecot: ssl = required survives; the printed lines appended to the file are read by doveconf -c; --check is then in line",
          .enabled(if: tool("doveconf") != nil, "needs doveconf (apt-get install dovecot-core)"))
    func dovecotKeepsRequired() throws {
        let doveconf = try #require(Self.tool("doveconf"))
        let (m, _) = try Self.boundMachine("svc-config-dovecot")
        let imap = m.current("IMAP").path
        let file = m.t.path("dovecot.conf").path
        try Self.write("ssl = required\nssl_cert = </etc/dovecot/private/dovecot.pem\nssl_key = </etc/dovecot/private/dovecot.key\n", file)
        let drift = try certstore(expecting: 1, ["service-config", "dovecot", "--check", "--config", file] + m.args)
        #expect(drift.stdout.contains("drift: ssl_cert = </etc/dovecot/private/dovecot.pem: reads other files than IMAP's (certstore requires <\(imap)/fullchain.pem)"), "\(drift)")
        let output = try certstore(expecting: 0, ["service-config", "dovecot", "--config", file] + m.args).stdout
        #expect(Self.settingLines(output) == ["ssl_cert = <\(imap)/fullchain.pem", "ssl_key = <\(imap)/privkey.pem"], "\(output)")
        #expect(output.contains("# Kept: ssl = required is stricter than yes"), "\(output)")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        handle.seekToEndOfFile()
        handle.write(Data((Self.settingLines(output).joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let read = try Self.run(doveconf, ["-c", file, "-n", "-P"])
        #expect(read.status == 0 && read.stdout.contains("ssl = required\n") && read.stdout.contains("ssl_cert = <\(imap)/fullchain.pem\n"), "\(read)")
        try certstore(expecting: 0, ["service-config", "dovecot", "--check", "--config", file] + m.args)
    }

    // MARK: exim4

    @Test("exim4: Debian macros (guarded: == for the certificate macro the administrator defined, = for the key macro only the template defines later) and plain main options, read back by exim -C … -bP",
          .enabled(if: exim != nil && isRoot, "needs root and exim4 (make service-deps unpacks Debian's exim4-daemon-light into .build-deps)"))
    func eximDebianMacros() throws {
        let exim = try #require(Self.exim)
        let (m, _) = try Self.boundMachine("svc-config-exim")
        let smtp = m.current("SMTP").path
        // certstore finds exim through PATH, like any tool.
        let environment = ["PATH": (exim as NSString).deletingLastPathComponent + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        // Debian's structure: local macros first, then 03_exim4-config_tlsoptions (abridged, same macros).
        let debian = m.t.path("exim4.conf").path
        let template = { (local: String) in """
            CONFDIR = /etc/exim4
            MAIN_TLS_ENABLE = yes
            MAIN_TLS_CERTIFICATE = CONFDIR/exim.crt
            \(local)
            .ifdef MAIN_TLS_ENABLE
            .ifndef MAIN_TLS_ADVERTISE_HOSTS
            MAIN_TLS_ADVERTISE_HOSTS = *
            .endif
            tls_advertise_hosts = MAIN_TLS_ADVERTISE_HOSTS
            .ifndef MAIN_TLS_CERTIFICATE
            MAIN_TLS_CERTIFICATE = CONFDIR/exim.crt
            .endif
            tls_certificate = MAIN_TLS_CERTIFICATE
            .ifndef MAIN_TLS_PRIVATEKEY
            MAIN_TLS_PRIVATEKEY = CONFDIR/exim.key
            .endif
            tls_privatekey = MAIN_TLS_PRIVATEKEY
            .endif

            """ }
        try Self.write(template(""), debian)
        let drift = try certstore(expecting: 1, ["service-config", "exim4", "--check", "--config", debian] + m.args, environment: environment)
        #expect(drift.stdout.contains("drift: tls_certificate = /etc/exim4/exim.crt: reads other files than SMTP's"), "\(drift)")
        let output = try certstore(expecting: 0, ["service-config", "exim", "--config", debian] + m.args, environment: environment).stdout
        let lines = Self.settingLines(output)
        #expect(lines.contains("MAIN_TLS_CERTIFICATE == \(smtp)/fullchain.pem") && lines.contains("MAIN_TLS_PRIVATEKEY = \(smtp)/privkey.pem"), "\(output)")
        #expect(output.contains("/etc/exim4/exim4.conf.localmacros") && output.contains("update-exim4.conf"), "\(output)")
        try Self.write(template(lines.joined(separator: "\n")), debian)
        let read = try Self.run(exim, ["-C", debian, "-bP", "tls_certificate", "tls_privatekey"])
        #expect(read.stdout == "tls_certificate = \(smtp)/fullchain.pem\ntls_privatekey = \(smtp)/privkey.pem\n", "\(read)")
        try certstore(expecting: 0, ["service-config", "exim4", "--check", "--config", debian] + m.args, environment: environment)

        // Another exim: STARTTLS off, no macros of Debian's: main options, tls_advertise_hosts raised to *.
        let plain = m.t.path("exim.conf").path
        try Self.write("tls_advertise_hosts =\n", plain)
        let main = Self.settingLines(try certstore(expecting: 0, ["service-config", "exim4", "--config", plain] + m.args, environment: environment).stdout)
        #expect(main == ["tls_certificate = \(smtp)/fullchain.pem", "tls_privatekey = \(smtp)/privkey.pem", "tls_advertise_hosts = *"], "\(main)")
        try Self.write(main.joined(separator: "\n") + "\n", plain)
        try certstore(expecting: 0, ["service-config", "exim4", "--check", "--config", plain] + m.args, environment: environment)
    }

    // MARK: apache2 and haproxy

    @Test("apache2: the printed directives in a private virtual host pass apache2 -t, and --check is in line; SSLCertificateChainFile is drift",
          .enabled(if: tool("apache2") != nil, "needs apache2 (make service-deps)"))
    func apacheValidates() throws {
        let apache = try #require(Self.tool("apache2"))
        let (m, _) = try Self.boundMachine("svc-config-apache")
        let site = m.t.path("site.conf").path
        try Self.write("<VirtualHost 127.0.0.1:443>\n  SSLEngine on\n  SSLCertificateFile /etc/ssl/certs/ssl-cert-snakeoil.pem\n  SSLCertificateChainFile /etc/ssl/chain.pem\n</VirtualHost>\n", site)
        let drift = try certstore(expecting: 1, ["service-config", "apache2", "--check", "--config", site] + m.args)
        #expect(drift.stdout.contains("drift: SSLCertificateChainFile = /etc/ssl/chain.pem (line 4)"), "\(drift)")
        #expect(drift.stdout.contains("drift: SSLCertificateKeyFile not set"), "\(drift)")
        let lines = Self.settingLines(try certstore(expecting: 0, ["service-config", "apache2", "--config", site] + m.args).stdout)
        #expect(lines == ["SSLCertificateFile \(m.current("IIS").path)/fullchain.pem", "SSLCertificateKeyFile \(m.current("IIS").path)/privkey.pem"], "\(lines)")
        let directory = m.t.path("apache").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/apache2.conf"
        try Self.write("""
            ServerRoot \(directory)
            ServerName mail.contoso.com
            PidFile \(directory)/httpd.pid
            ErrorLog \(directory)/error.log
            Listen 127.0.0.1:443 https
            LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
            LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
            LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
            <VirtualHost 127.0.0.1:443>
              SSLEngine on
            \(lines.map { "  " + $0 }.joined(separator: "\n"))
            </VirtualHost>

            """, config)
        let syntax = try Self.run(apache, ["-t", "-f", config])
        #expect(syntax.status == 0 && syntax.stderr.contains("Syntax OK"), "\(syntax)")
        try certstore(expecting: 0, ["service-config", "apache2", "--check", "--config", config] + m.args)
    }

    @Test("haproxy 2.6: the printed ln commands make the crt/.key pair through current; haproxy -c loads it; a new binding needs no new links",
          .enabled(if: tool("haproxy") != nil, "needs haproxy (make service-deps)"))
    func haproxyLinkPair() throws {
        let haproxy = try #require(Self.tool("haproxy"))
        let (m, first) = try Self.boundMachine("svc-config-haproxy")
        let directory = m.t.path("haproxy").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/haproxy.cfg"
        let head = "global\n    log stdout local0\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\nfrontend web\n"
        try Self.write(head + "    bind :443 ssl crt /etc/ssl/private/snakeoil.pem\n    default_backend app\nbackend app\n    server s 127.0.0.1:8080\n", config)
        let drift = try certstore(expecting: 1, ["service-config", "haproxy", "--check", "--config", config] + m.args)
        #expect(drift.stdout.contains("drift: crt = /etc/ssl/private/snakeoil.pem (line 9): /etc/ssl/private/snakeoil.pem is not a symbolic link to"), "\(drift)")
        let output = try certstore(expecting: 0, ["service-config", "haproxy", "--config", config] + m.args).stdout
        let link = directory + "/certstore-IIS.pem"
        #expect(Self.settingLines(output) == ["bind :443 ssl crt \(link)"], "\(output)")
        // The commands as printed, through a shell.
        let commands = output.split(separator: "\n").filter { $0.hasPrefix("#   ln ") }.map { String($0.dropFirst(4)) }
        #expect(commands.count == 2, "\(output)")
        for command in commands {
            let ran = try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
            #expect(ran.status == 0, "\(ran)")
        }
        try Self.write(head + "    " + Self.settingLines(output)[0] + "\n    default_backend app\nbackend app\n    server s 127.0.0.1:8080\n", config)
        let valid = try Self.run(haproxy, ["-c", "-f", config])
        #expect(valid.status == 0, "\(valid)")
        try certstore(expecting: 0, ["service-config", "haproxy", "--check", "--config", config] + m.args)

        // Another certificate bound: current switches, the links follow, haproxy still loads the pair.
        let next = try m.add("mail-next")
        try m.enable(next, "IIS", ["--overwrite-default"])
        // Unbound from IIS: with both bound, which one IIS presents depends on NotBefore, and the two were issued
        // within the same second.
        try certstore(expecting: 0, ["disable", first.thumbprint, "--services", "IIS"] + m.args)
        #expect(m.deployed("IIS") == next.thumbprint)
        #expect(try Self.run(haproxy, ["-c", "-f", config]).status == 0)
        try certstore(expecting: 0, ["service-config", "haproxy", "--check", "--config", config] + m.args)
    }
}
