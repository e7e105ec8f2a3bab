import Foundation
import Testing
@testable import CertStore

/// The "real services" pieces below the command line: service addresses for `probe`, the version
/// directories `ServiceFiles` keeps (with a fixed clock, so same-second switches are deterministic), and
/// which files in Hooks/ count as hooks and which are unsafe to run.
@Suite("services (unit)")
struct ServicesUnitTests {
    // MARK: probe addresses

    struct Address: Sendable, CustomTestStringConvertible {
        let text: String
        let scheme: Prober.Target.Scheme
        let host: String
        let port: UInt16
        let service: ExchangeService
        var testDescription: String { text }
    }

    static let addresses: [Address] = [
        Address(text: "smtp://mail.contoso.com", scheme: .smtp, host: "mail.contoso.com", port: 25, service: .smtp),
        Address(text: "submission://mail.contoso.com", scheme: .submission, host: "mail.contoso.com", port: 587, service: .smtp),
        Address(text: "smtps://mail.contoso.com", scheme: .smtps, host: "mail.contoso.com", port: 465, service: .smtp),
        Address(text: "imap://mail.contoso.com", scheme: .imap, host: "mail.contoso.com", port: 143, service: .imap),
        Address(text: "imaps://mail.contoso.com", scheme: .imaps, host: "mail.contoso.com", port: 993, service: .imap),
        Address(text: "pop3://mail.contoso.com", scheme: .pop3, host: "mail.contoso.com", port: 110, service: .pop),
        Address(text: "pop3s://mail.contoso.com", scheme: .pop3s, host: "mail.contoso.com", port: 995, service: .pop),
        Address(text: "https://mail.contoso.com", scheme: .https, host: "mail.contoso.com", port: 443, service: .iis),
        Address(text: "SMTP://127.0.0.1:2525", scheme: .smtp, host: "127.0.0.1", port: 2525, service: .smtp),
        Address(text: "https://web.contoso.com:8443/owa/", scheme: .https, host: "web.contoso.com", port: 8443, service: .iis),
        Address(text: "smtp://[::1]:2525", scheme: .smtp, host: "::1", port: 2525, service: .smtp),
        Address(text: "imaps://[2001:db8::1]", scheme: .imaps, host: "2001:db8::1", port: 993, service: .imap),
    ]

    @Test("probe addresses: scheme (any case), host, default and explicit port, IPv6 in brackets, the service compared",
          arguments: addresses)
    func parsesAddress(_ address: Address) throws {
        let target = try Prober.Target(parsing: address.text)
        #expect(target.scheme == address.scheme)
        #expect(target.host == address.host)
        #expect(target.port == address.port)
        #expect(target.service == address.service)
        // The description is the canonical form: it parses back to the same target.
        #expect(try Prober.Target(parsing: target.description) == target)
        #expect(target.description.hasSuffix(":\(address.port)"))
        #expect(target.description.contains("[") == address.host.contains(":"))
    }

    @Test("malformed probe addresses are usage errors",
          arguments: ["ftp://mail.contoso.com", "smtp://", "mail.contoso.com", "smtp://mail.contoso.com:0",
                      "smtp://mail.contoso.com:99999", "smtp://mail.contoso.com:abc", "smtp://:25", "ldap://dc01", "smtp://[::1]:"])
    func rejectsAddress(_ text: String) throws {
        let error = try #require(throws: CertStoreError.self) { try Prober.Target(parsing: text) }
        #expect(error.kind == .usage, "\(text): \(error)")
        #expect(error.message.contains("not a service address"))
    }

    @Test("malformed probe addresses with brackets or several colons are usage errors too",
          arguments: ["smtp://[::1", "smtp://mail.contoso.com:25:26", "smtp://[::1]junk"])
    func rejectsOddAddress(_ text: String) throws {
        let error = try #require(throws: CertStoreError.self) { try Prober.Target(parsing: text) }
        #expect(error.kind == .usage, "\(text): \(error)")
    }

    // MARK: service files with a fixed clock

    /// A store with `count` self-signed server certificates with their keys, sorted by thumbprint.
    static func storeWithCertificates(_ count: Int) throws -> (TestStore, [Thumbprint]) {
        let t = try TestStore()
        let dir = try Scratch.makeDirectory("svc-certs")
        for n in 0..<count {
            let key = dir.appendingPathComponent("s\(n).key").path, pem = dir.appendingPathComponent("s\(n).pem").path
            try Fixtures.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                                 config: t.fixtures.path("openssl.cnf"))
            try Fixtures.openssl(["req", "-x509", "-new", "-key", key, "-subj", "/CN=svc\(n).contoso.com", "-days", "365",
                                  "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature",
                                  "-addext", "extendedKeyUsage=serverAuth", "-out", pem], config: t.fixtures.path("openssl.cnf"))
            let bundle = dir.appendingPathComponent("s\(n)-bundle.pem")
            try (try Data(contentsOf: URL(fileURLWithPath: pem)) + Data(contentsOf: URL(fileURLWithPath: key))).write(to: bundle)
            try t.importFiles([bundle.path], options: TestStore.options(password: nil))
        }
        let thumbprints = try t.store.entries(in: TestStore.my).entries.filter(\.hasPrivateKey).map(\.thumbprint).sorted()
        try #require(thumbprints.count == count)
        return (t, thumbprints)
    }

    static let fixedNow = Date(timeIntervalSince1970: 1_767_323_045)  // 2026-01-02T03:04:05Z

    static func versions(_ files: ServiceFiles, _ service: ExchangeService) throws -> [String] {
        let folder = files.directory.appendingPathComponent(service.rawValue)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("v") }.sorted()
    }

    static func currentTarget(_ files: ServiceFiles, _ service: ExchangeService) throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: files.currentLink(service).path)
    }

    @Test("enable: vSTAMP-THUMB8 named from the clock, current is a relative link to it, one change reported, then none")
    func versionNaming() throws {
        let (t, thumbprints) = try Self.storeWithCertificates(1)
        let thumbprint = thumbprints[0]
        let files = ServiceFiles(store: t.store)
        let changes = try BindingManager(store: t.store).enable(thumbprint, services: [.imap], answer: .keep,
                                                                now: Self.fixedNow).serviceChanges
        #expect(changes == [ServiceFiles.Change(service: .imap, oldThumbprint: nil, newThumbprint: thumbprint,
                                                directory: files.currentLink(.imap).path, reasons: ["new certificate"])])
        let expected = "v20260102T030405Z-\(thumbprint.shortForm)"
        #expect(try Self.currentTarget(files, .imap) == expected)
        #expect(try Self.versions(files, .imap) == [expected])
        #expect(files.deployedThumbprint(.imap) == thumbprint)
        // Only IMAP was bound: the other services have no folder at all.
        for service in [ExchangeService.smtp, .iis, .pop] {
            #expect(!FileManager.default.fileExists(atPath: files.directory.appendingPathComponent(service.rawValue).path))
        }
        #expect(try files.deploy(now: Self.fixedNow.addingTimeInterval(60)).serviceChanges.isEmpty)
        // The same certificate again within the same second gets its own directory (the key's owner changed).
        chmod(files.currentLink(.imap).appendingPathComponent("privkey.pem").path, 0o644)
        let redo = try files.deploy(now: Self.fixedNow).serviceChanges
        #expect(redo.map(\.reasons) == [["privkey.pem owner or mode"]])
        #expect(redo.map(\.newThumbprint) == [thumbprint])
        #expect(redo.map(\.oldThumbprint) == [thumbprint])
        #expect(try Self.currentTarget(files, .imap) == expected + "-2")
        #expect(try Self.versions(files, .imap) == [expected, expected + "-2"])
    }

    @Test("synchronize: after switches in different seconds, the live version and the one live just before it remain")
    func pruneAcrossSeconds() throws {
        let (t, thumbprints) = try Self.storeWithCertificates(3)
        let files = ServiceFiles(store: t.store)
        let manager = BindingManager(store: t.store)
        // Deploy in reverse thumbprint order, one minute apart: time order and name order agree (the stamp leads).
        var names: [String] = []
        for (index, thumbprint) in thumbprints.reversed().enumerated() {
            let changes = try manager.enable(thumbprint, services: [.smtp], answer: .overwrite,
                                             now: Self.fixedNow.addingTimeInterval(Double(index) * 60)).serviceChanges
            #expect(changes.map(\.newThumbprint) == [thumbprint])
            names.append(try Self.currentTarget(files, .smtp))
        }
        #expect(try Self.versions(files, .smtp) == Array(names.suffix(2)).sorted())
    }

    @Test("synchronize: after three switches within one second, the version live just before the last switch is the one kept")
    func pruneWithinOneSecond() throws {
        let (t, thumbprints) = try Self.storeWithCertificates(3)
        let files = ServiceFiles(store: t.store)
        let manager = BindingManager(store: t.store)
        // Name order low < mid < high; deploy high, then low, then mid (as three quick `enable`s would).
        let (low, mid, high) = (thumbprints[0], thumbprints[1], thumbprints[2])
        var live: [String] = []
        for thumbprint in [high, low, mid] {
            _ = try manager.enable(thumbprint, services: [.smtp], answer: .overwrite, now: Self.fixedNow)
            live.append(try Self.currentTarget(files, .smtp))
        }
        #expect(files.deployedThumbprint(.smtp) == mid)
        // Kept: the live one (mid) and the one before it (low); high was two switches ago.
        #expect(Set(try Self.versions(files, .smtp)) == Set([live[2], live[1]]), "live order: \(live)")
    }

    @Test("synchronize: no qualifying certificate left → current and every version directory are removed, one change to nil")
    func withdraw() throws {
        let (t, thumbprints) = try Self.storeWithCertificates(1)
        let files = ServiceFiles(store: t.store)
        let manager = BindingManager(store: t.store)
        _ = try manager.enable(thumbprints[0], services: [.pop], answer: .keep, now: Self.fixedNow)
        let changes = try manager.disable(thumbprints[0], services: [.pop], newDefault: nil,
                                          now: Self.fixedNow.addingTimeInterval(1)).serviceChanges
        #expect(changes.map(\.service) == [.pop])
        #expect(changes.map(\.oldThumbprint) == [thumbprints[0]])
        #expect(changes.map(\.newThumbprint) == [nil])
        #expect(!FileSystem.exists(files.currentLink(.pop)))
        #expect(try Self.versions(files, .pop).isEmpty)
        #expect(try files.deploy(now: Self.fixedNow.addingTimeInterval(2)).serviceChanges.isEmpty)
    }

    // MARK: hooks

    static func hooksStore() throws -> (DeployHooks, URL) {
        let root = try Scratch.makeDirectory("hooks")
        let store = StoreLocation(root: root)
        let hooks = DeployHooks(store: store)
        try FileManager.default.createDirectory(at: hooks.directory, withIntermediateDirectories: true)
        chmod(store.directory.path, 0o755)
        chmod(hooks.directory.path, 0o755)
        return (hooks, hooks.directory)
    }

    static func script(_ directory: URL, _ name: String, mode: mode_t) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: url)
        chmod(url.path, mode)
        return url
    }

    @Test("hooks(): executable regular files in name order; dot-files, non-executables and directories are not hooks")
    func hookListing() throws {
        let (hooks, directory) = try Self.hooksStore()
        _ = try Self.script(directory, "20-second", mode: 0o755)
        _ = try Self.script(directory, "10-first", mode: 0o700)
        _ = try Self.script(directory, "30-readme", mode: 0o644)
        _ = try Self.script(directory, ".15-hidden", mode: 0o755)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("12-dir"), withIntermediateDirectories: false)
        chmod(directory.appendingPathComponent("12-dir").path, 0o755)
        #expect(hooks.hooks().map(\.lastPathComponent) == ["10-first", "20-second"])
    }

    @Test("unsafeReason: nil for a 0755 hook in a 0755 directory; a group-writable hook, an others-writable directory, a symbolic link are unsafe")
    func hookSafety() throws {
        let (hooks, directory) = try Self.hooksStore()
        let good = try Self.script(directory, "10-good", mode: 0o755)
        #expect(hooks.unsafeReason(good) == nil)
        let groupWritable = try Self.script(directory, "20-group", mode: 0o775)
        #expect(hooks.unsafeReason(groupWritable)?.contains("writable by group or others (mode 775)") == true)
        let link = directory.appendingPathComponent("30-link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: good)
        #expect(hooks.unsafeReason(link)?.contains("symbolic link") == true)
        chmod(directory.path, 0o757)
        #expect(hooks.unsafeReason(good)?.contains("\(directory.path) is writable by group or others") == true)
        chmod(directory.path, 0o755)
        #expect(hooks.unsafeReason(good) == nil)
    }

    // MARK: service-config

    static func live(_ daemon: ServiceConfig.Daemon, _ text: String, file: String? = nil, macros: [String: String]? = nil) -> ServiceConfig.LiveState {
        let settings: [ServiceConfig.LiveSetting]
        switch daemon {
        case .dovecot: settings = LiveConfigurationReader.parseDovecot(text)
        case .nginx: settings = LiveConfigurationReader.parseNginx(text)
        case .apache2: settings = LiveConfigurationReader.parseApache(text)
        case .haproxy: settings = LiveConfigurationReader.parseHAProxy(text)
        default: settings = LiveConfigurationReader.parseNameValue(text)
        }
        return .read(ServiceConfig.LiveConfiguration(daemon: daemon, source: "test", settings: settings, file: file, macros: macros))
    }

    @Test("service-config without a live configuration: every daemon's full lines read its own service's current link, and say so")
    func serviceConfigFullLines() throws {
        let t = try TestStore()
        let files = ServiceFiles(store: t.store)
        let unavailable = ServiceConfig.LiveState.unavailable(tried: "postconf -n -x", reason: "postconf is not installed")
        let postfix = try ServiceConfig.plan(.postfix, store: t.store, live: unavailable)
        let smtp = files.currentLink(.smtp).path
        #expect(postfix.text.contains("# The live configuration could not be read (tried `postconf -n -x`: postconf is not installed)."), "\(postfix.text)")
        #expect(postfix.settingLines == [
            "smtpd_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem", "smtp_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem",
            "smtpd_tls_security_level = may", "smtp_tls_security_level = may", "smtp_tls_loglevel = 1", "smtpd_tls_loglevel = 1"])
        #expect(postfix.drifts.isEmpty, "nothing is compared without a live configuration")
        let imap = files.currentLink(.imap).path
        let dovecot = try ServiceConfig.plan(.dovecot, store: t.store, live: unavailable)
        #expect(dovecot.settingLines == ["ssl = yes", "ssl_cert = <\(imap)/fullchain.pem", "ssl_key = <\(imap)/privkey.pem"])
        let iis = files.currentLink(.iis).path
        let nginx = try ServiceConfig.plan(.nginx, store: t.store, live: unavailable)
        #expect(nginx.settingLines == ["ssl_certificate \(iis)/fullchain.pem;", "ssl_certificate_key \(iis)/privkey.pem;"])
        let apache = try ServiceConfig.plan(.apache2, store: t.store, live: unavailable)
        #expect(apache.settingLines == ["SSLEngine on", "SSLCertificateFile \(iis)/fullchain.pem", "SSLCertificateKeyFile \(iis)/privkey.pem"])
        let haproxy = try ServiceConfig.plan(.haproxy, store: t.store, live: unavailable)
        #expect(haproxy.settingLines == ["bind :443 ssl crt /etc/haproxy/certstore-IIS.pem"])
        #expect(haproxy.text.contains("#   ln -sfn \(iis)/privkey.pem /etc/haproxy/certstore-IIS.pem.key\n"), "\(haproxy.text)")
        let exim = try ServiceConfig.plan(.exim4, store: t.store, live: unavailable)
        #expect(exim.settingLines.contains("MAIN_TLS_CERTIFICATE = \(smtp)/fullchain.pem") || exim.settingLines.contains("tls_certificate = \(smtp)/fullchain.pem"), "\(exim.text)")
        for plan in [postfix, dovecot, nginx, apache, haproxy, exim] {
            #expect(plan.text.contains(DeployHooks(store: t.store).directory.path))
            #expect(!plan.text.contains("/v20"), "never a version directory")
            #expect(plan.text.contains("Nothing is bound to \(plan.service.rawValue) yet"))
        }

        _ = try ConnectorManager(store: t.store).add(SendConnector(name: "Outbound", protocolLoggingLevel: "Verbose"))
        let verbose = try ServiceConfig.plan(.postfix, store: t.store, live: unavailable)
        #expect(verbose.settingLines.contains("smtp_tls_loglevel = 2") && verbose.settingLines.contains("smtpd_tls_loglevel = 2"))
        #expect(verbose.text.contains("#   certstore service-config postfix --master-cf   to master.cf"), "connectors are routed through their own transports")
        #expect(!postfix.text.contains("--master-cf"), "nothing about connectors while there is none")
    }

    @Test("postfix: a stricter level is kept (dane, encrypt, verify, legacy enforce), none and absence are raised to may, chain files only when they differ")
    func postfixNeverLowers() throws {
        let t = try TestStore()
        let smtp = ServiceFiles(store: t.store).currentLink(.smtp).path
        let chain = "\(smtp)/privkey.pem, \(smtp)/fullchain.pem"
        for stricter in ["encrypt", "dane", "dane-only", "verify", "secure", "fingerprint"] {
            let plan = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, "smtp_tls_security_level = \(stricter)\nsmtpd_tls_security_level = encrypt\n"))
            #expect(!plan.settingLines.contains { $0.hasPrefix("smtp_tls_security_level") || $0.hasPrefix("smtpd_tls_security_level") }, "\(stricter): \(plan.text)")
            #expect(plan.text.contains("# Kept: smtp_tls_security_level = \(stricter) is stricter than may; certstore never lowers a security level."))
            #expect(!plan.drifts.contains { $0.setting.hasSuffix("security_level") })
        }
        let legacy = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, "smtpd_enforce_tls = yes\nsmtp_use_tls = yes\n"))
        #expect(!legacy.settingLines.contains { $0.contains("security_level") }, "\(legacy.text)")
        #expect(legacy.text.contains("smtpd_enforce_tls = yes (legacy, level encrypt) is stricter than may"))

        let weak = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, "smtpd_tls_security_level = none\nsmtp_tls_loglevel = 3\n"))
        #expect(weak.settingLines.contains("smtpd_tls_security_level = may") && weak.settingLines.contains("smtp_tls_security_level = may"))
        #expect(weak.drifts.contains(ServiceConfig.Drift(setting: "smtpd_tls_security_level", live: "none", required: "may or stricter", reason: "weaker than may")))
        #expect(weak.drifts.contains { $0.setting == "smtp_tls_security_level" && $0.live == nil })
        #expect(!weak.settingLines.contains { $0.hasPrefix("smtp_tls_loglevel") }, "a higher log level is kept")

        let typo = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, "smtp_tls_security_level = encrpyt\n"))
        #expect(!typo.settingLines.contains { $0.hasPrefix("smtp_tls_security_level") }, "an unknown level is left alone")
        #expect(typo.drifts.contains { $0.setting == "smtp_tls_security_level" && $0.reason == "not a level certstore knows" })

        let inLine = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, """
            smtpd_tls_chain_files = \(smtp)/privkey.pem,\(smtp)/fullchain.pem
            smtp_tls_cert_file = \(smtp)/fullchain.pem
            smtp_tls_key_file = \(smtp)/privkey.pem
            smtpd_tls_security_level = may
            smtp_tls_security_level = dane
            smtpd_tls_loglevel = 1
            smtp_tls_loglevel = 1

            """))
        #expect(inLine.settingLines.isEmpty, "\(inLine.text)")
        #expect(inLine.drifts.map(\.setting) == ["SMTP service files"], "only the missing binding: \(inLine.drifts)")
        #expect(inLine.text.contains("# Kept: smtp_tls_cert_file and smtp_tls_key_file already read SMTP's files."))

        let other = try ServiceConfig.plan(.postfix, store: t.store, live: Self.live(.postfix, "smtpd_tls_chain_files = /etc/ssl/k.pem, /etc/ssl/c.pem\nsmtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem\n"))
        #expect(other.settingLines.first == "smtpd_tls_chain_files = \(chain)")
        #expect(other.drifts.first == ServiceConfig.Drift(setting: "smtpd_tls_chain_files", live: "/etc/ssl/k.pem, /etc/ssl/c.pem", required: chain, reason: "reads other files than SMTP's"))
        #expect(other.text.contains("# smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem may stay: postfix ignores it once smtpd_tls_chain_files is set."))
    }

    @Test("dovecot: ssl = required is kept, ssl = no raised, a protocol section's override is drift, an inline key is never printed")
    func dovecotNeverLowers() throws {
        let t = try TestStore()
        let imap = ServiceFiles(store: t.store).currentLink(.imap).path
        let required = try ServiceConfig.plan(.dovecot, store: t.store, live: Self.live(.dovecot, """
            # 2.3.19.1: /etc/dovecot/dovecot.conf
            ssl = required
            ssl_cert = </etc/dovecot/private/dovecot.pem
            ssl_key = -----BEGIN PRIVATE KEY----- secret
            protocol imap {
              ssl_cert = </etc/other.pem
            }
            local_name mail.fabrikam.com {
              ssl_cert = </etc/fabrikam.pem
            }

            """))
        #expect(required.settingLines == ["ssl_cert = <\(imap)/fullchain.pem", "ssl_key = <\(imap)/privkey.pem"], "\(required.text)")
        #expect(required.text.contains("# Kept: ssl = required is stricter than yes; certstore never lowers a security level."))
        #expect(!required.text.contains("secret") && !required.drifts.contains { $0.live?.contains("secret") == true }, "\(required.text)")
        #expect(required.drifts.contains { $0.setting == "ssl_cert" && $0.live == "</etc/other.pem in protocol imap { }" })
        #expect(!required.drifts.contains { $0.live?.contains("fabrikam") == true }, "a local_name section is another name's")
        let off = try ServiceConfig.plan(.dovecot, store: t.store, live: Self.live(.dovecot, "ssl = no\nssl_cert = <\(imap)/fullchain.pem\nssl_key = <\(imap)/privkey.pem\n"))
        #expect(off.settingLines == ["ssl = yes"])
        let byDefault = try ServiceConfig.plan(.dovecot, store: t.store, live: Self.live(.dovecot, "ssl_cert = <\(imap)/fullchain.pem\nssl_key = <\(imap)/privkey.pem\n"))
        #expect(byDefault.settingLines.isEmpty && byDefault.text.contains("ssl = yes (dovecot's default)"), "\(byDefault.text)")
    }

    @Test("exim4: Debian macros guarded by .ifdef (== where one is already defined, = where not) or main options; a set tls_advertise_hosts is kept")
    func eximLines() throws {
        let t = try TestStore()
        let smtp = ServiceFiles(store: t.store).currentLink(.smtp).path
        let debian = try ServiceConfig.plan(.exim4, store: t.store, live: Self.live(.exim4,
            "tls_certificate = /etc/exim4/exim.crt\ntls_privatekey = /etc/exim4/exim.key\ntls_advertise_hosts = 10.0.0.0/8\n",
            macros: ["CONFDIR": "/etc/exim4", "MAIN_TLS_ENABLE": "yes", "MAIN_TLS_CERTIFICATE": "/etc/exim4/exim.crt"]))
        // Whether a macro is defined where the lines are read is exim's to say (-bP macros lists the template's later defaults too).
        let enable = [".ifndef MAIN_TLS_ENABLE", "MAIN_TLS_ENABLE = yes", ".endif"]
        func define(_ macro: String, _ value: String) -> [String] { [".ifdef \(macro)", "\(macro) == \(value)", ".else", "\(macro) = \(value)", ".endif"] }
        #expect(debian.settingLines == enable + define("MAIN_TLS_CERTIFICATE", "\(smtp)/fullchain.pem") + define("MAIN_TLS_PRIVATEKEY", "\(smtp)/privkey.pem"), "\(debian.text)")
        #expect(debian.text.contains("# Kept: tls_advertise_hosts = 10.0.0.0/8"))
        let off = try ServiceConfig.plan(.exim4, store: t.store, live: Self.live(.exim4, "tls_certificate = \ntls_privatekey = \ntls_advertise_hosts = \n",
                                                                                  macros: ["CONFDIR": "/etc/exim4"]))
        #expect(off.settingLines == enable + define("MAIN_TLS_CERTIFICATE", "\(smtp)/fullchain.pem") + define("MAIN_TLS_PRIVATEKEY", "\(smtp)/privkey.pem"))
        #expect(off.drifts.map(\.setting).prefix(3) == ["tls_certificate", "tls_privatekey", "tls_advertise_hosts"])
        let plain = try ServiceConfig.plan(.exim4, store: t.store, live: Self.live(.exim4, "tls_certificate = /x.pem\ntls_privatekey = \ntls_advertise_hosts = \n", macros: [:]))
        #expect(plain.settingLines == ["tls_certificate = \(smtp)/fullchain.pem", "tls_privatekey = \(smtp)/privkey.pem", "tls_advertise_hosts = *"])
        let inLine = try ServiceConfig.plan(.exim4, store: t.store, live: Self.live(.exim4,
            "tls_certificate = \(smtp)/fullchain.pem\ntls_privatekey = \(smtp)/privkey.pem\ntls_advertise_hosts = *\n", macros: [:]))
        #expect(inLine.settingLines.isEmpty && inLine.drifts.map(\.setting) == ["SMTP service files"], "\(inLine.text)")
    }

    @Test("nginx, apache2, haproxy: every certificate directive of the named file, with its line; includes are noted; an obsolete chain file is drift")
    func webServerLines() throws {
        let t = try TestStore()
        let iis = ServiceFiles(store: t.store).currentLink(.iis).path
        let nginx = try ServiceConfig.plan(.nginx, store: t.store, live: Self.live(.nginx, """
            server {
                listen 443 ssl; # comment; with { braces }
                ssl_certificate "/etc/ssl/certs/ssl cert.pem";
                ssl_certificate_key \(iis)/privkey.pem;
                include snippets/ssl.conf;
            }

            """))
        #expect(nginx.settingLines == ["ssl_certificate \(iis)/fullchain.pem;"], "\(nginx.text)")
        #expect(nginx.drifts.first == ServiceConfig.Drift(setting: "ssl_certificate", live: "/etc/ssl/certs/ssl cert.pem (line 3)", required: "\(iis)/fullchain.pem",
                                                     reason: "reads other files than IIS's"))
        #expect(nginx.drifts.map(\.setting) == ["ssl_certificate", "IIS service files"])
        #expect(nginx.text.contains("includes other files (line 5: snippets/ssl.conf)"), "\(nginx.text)")

        let apache = try ServiceConfig.plan(.apache2, store: t.store, live: Self.live(.apache2, """
            <VirtualHost *:443>
              sslengine On
              SSLCertificateFile \(iis)/fullchain.pem
              SSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key
              SSLCertificateChainFile /etc/ssl/chain.pem
            </VirtualHost>

            """))
        #expect(apache.settingLines == ["SSLCertificateKeyFile \(iis)/privkey.pem"], "\(apache.text)")
        #expect(apache.drifts.map(\.setting) == ["SSLCertificateKeyFile", "SSLCertificateChainFile", "IIS service files"])

        let directory = try Scratch.makeDirectory("haproxy")
        let link = directory.path + "/certstore-IIS.pem"
        let text = "global\n    crt-base \(directory.path)\nfrontend web\n    bind :443 ssl crt certstore-IIS.pem alpn h2\n"
        let before = try ServiceConfig.plan(.haproxy, store: t.store, live: Self.live(.haproxy, text, file: directory.path + "/haproxy.cfg"))
        #expect(before.settingLines == ["bind :443 ssl crt \(link)"])
        #expect(before.drifts.first?.reason == "\(link) is not a symbolic link to \(iis)/fullchain.pem", "\(before.drifts)")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: iis + "/fullchain.pem")
        let half = try ServiceConfig.plan(.haproxy, store: t.store, live: Self.live(.haproxy, text, file: directory.path + "/haproxy.cfg"))
        #expect(half.drifts.first?.reason == "\(link).key is not a symbolic link to \(iis)/privkey.pem")
        try FileManager.default.createSymbolicLink(atPath: link + ".key", withDestinationPath: iis + "/privkey.pem")
        let pair = try ServiceConfig.plan(.haproxy, store: t.store, live: Self.live(.haproxy, text, file: directory.path + "/haproxy.cfg"))
        #expect(pair.settingLines.isEmpty && pair.drifts.map(\.setting) == ["IIS service files"], "\(pair.text)")
        let noKey = try ServiceConfig.plan(.haproxy, store: t.store, live: Self.live(.haproxy, "global\n  ssl-load-extra-files sctl\n" + text, file: directory.path + "/h.cfg"))
        #expect(noKey.drifts.first?.setting == "ssl-load-extra-files")
    }

    @Test("paths a daemon's syntax cannot carry are refused, not printed broken")
    func unprintablePaths() throws {
        let root = try Scratch.makeDirectory("with space, comma")
        let store = StoreLocation(root: root)
        let live = ServiceConfig.LiveState.unavailable(tried: "postconf -n -x", reason: "test")
        #expect(throws: CertStoreError.self) { try ServiceConfig.plan(.postfix, store: store, live: live) }
        let nginx = try ServiceConfig.plan(.nginx, store: store, live: live)
        #expect(nginx.settingLines.first?.hasPrefix("ssl_certificate \"") == true, "quoted for nginx: \(nginx.text)")
    }
}
