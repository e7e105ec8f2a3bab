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
        let store = CertificateStore(root: root)
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

    @Test("service-config lines: each daemon reads its own service's current link; postfix log level follows Verbose connectors")
    func serviceConfigLines() throws {
        let t = try TestStore()
        let files = ServiceFiles(store: t.store)
        let postfix = try ServiceConfig.lines(for: .postfix, store: t.store)
        let smtp = files.currentLink(.smtp).path
        #expect(postfix.contains("smtpd_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem\n"))
        #expect(postfix.contains("smtp_tls_chain_files = \(smtp)/privkey.pem, \(smtp)/fullchain.pem\n"))
        #expect(postfix.contains("smtp_tls_loglevel = 1\n") && postfix.contains("smtpd_tls_loglevel = 1\n"))
        let imap = files.currentLink(.imap).path
        let dovecot = try ServiceConfig.lines(for: .dovecot, store: t.store)
        #expect(dovecot.contains("ssl_cert = <\(imap)/fullchain.pem\n") && dovecot.contains("ssl_key = <\(imap)/privkey.pem\n"))
        let iis = files.currentLink(.iis).path
        let nginx = try ServiceConfig.lines(for: .nginx, store: t.store)
        #expect(nginx.contains("ssl_certificate \(iis)/fullchain.pem;\n") && nginx.contains("ssl_certificate_key \(iis)/privkey.pem;\n"))
        for text in [postfix, dovecot, nginx] {
            #expect(text.contains(DeployHooks(store: t.store).directory.path))
            #expect(!text.contains("/v20"), "never a version directory")
        }

        _ = try ConnectorManager(store: t.store).add(SendConnector(name: "Outbound", protocolLoggingLevel: "Verbose"))
        let verbose = try ServiceConfig.lines(for: .postfix, store: t.store)
        #expect(verbose.contains("smtp_tls_loglevel = 2\n") && verbose.contains("smtpd_tls_loglevel = 2\n"))
    }
}
