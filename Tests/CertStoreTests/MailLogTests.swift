import Foundation
import Testing
@testable import CertStore

/// Format detection, line parsing and classification of mail daemon logs, on lines the daemons wrote themselves
/// (Fixtures/MailLogs, captured by scripts/capture-mail-logs.sh: see its README).
@Suite("mail logs")
struct MailLogTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/MailLogs")
    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// (program, direction, kind, count, consequences) of each group, in order.
    static func summary(_ name: String) throws -> [String] {
        let store = try TestStore()
        let result = try MailLogDiagnoser(store: store.store).diagnose([fixture(name)])
        return result.groups.map { "\($0.program) \($0.direction.rawValue) \($0.kind.rawValue) ×\($0.count) +\($0.consequences)" }
    }

    static func groups(_ name: String) throws -> [MailLogDiagnoser.Group] {
        try MailLogDiagnoser(store: try TestStore().store).diagnose([fixture(name)]).groups
    }

    @Test("every fixture is detected in its format; Exchange logs still are; a file in no format is bad data; an empty one has none")
    func detection() throws {
        #expect(try LogFormat.detect(Self.fixture("mail.log")) == .syslog)
        #expect(try LogFormat.detect(Self.fixture("mail-traditional.log")) == .syslog)
        #expect(try LogFormat.detect(Self.fixture("journal-short-iso.log")) == .syslog)
        #expect(try LogFormat.detect(Self.fixture("postfix-maillog_file.log")) == .syslog)
        #expect(try LogFormat.detect(Self.fixture("dovecot.log")) == .dovecotLog)
        #expect(try LogFormat.detect(Self.fixture("exim4-mainlog.log")) == .eximMainlog)

        let dir = try Scratch.makeDirectory("detect")
        let exchange = dir.appendingPathComponent("SEND1.log")
        try Data("#Software: Microsoft Exchange Server\r\n#Fields: date-time,connector-id\r\n".utf8).write(to: exchange)
        #expect(try LogFormat.detect(exchange) == .exchangeProtocolLog)
        let headerless = dir.appendingPathComponent("SEND2.log")
        try Data("2026-11-28T09:14:45.275Z,Outbound,08DE2F1A9C3B7701,0,,104.47.2.36:25,*,,attempting to connect\r\n".utf8).write(to: headerless)
        #expect(try LogFormat.detect(headerless) == .exchangeProtocolLog)

        let csv = dir.appendingPathComponent("inventory.csv")
        try Data("name,size\nfoo,1\nbar,2\n".utf8).write(to: csv)
        let error = #expect(throws: CertStoreError.self) { try LogFormat.detect(csv) }
        #expect(error?.kind == .badData)
        #expect(error?.message.contains("no log format") == true, "\(String(describing: error))")
        #expect(error?.hint?.contains("mail.log") == true)

        let empty = dir.appendingPathComponent("empty.log")
        try Data("\n\n".utf8).write(to: empty)
        #expect(try LogFormat.detect(empty) == nil)
    }

    @Test("the line grammars: RFC 3339 and traditional syslog, journalctl short-iso, postlogd, dovecot's file, exim's mainlog")
    func lineGrammars() throws {
        let iso = try #require(MailLogLine.parse("2026-12-03T12:45:45.037104+00:00 mail postfix/smtpd[24179]: connect from localhost[127.0.0.1]"))
        #expect(iso.host == "mail" && iso.program == "postfix/smtpd" && iso.pid == "24179" && iso.message == "connect from localhost[127.0.0.1]")
        let journal = try #require(MailLogLine.parse("2026-12-03T12:45:51+0000 mail dovecot[24378]: master: Dovecot v2.3.19.1 starting up"))
        #expect(journal.program == "dovecot" && journal.pid == "24378" && journal.timestamp == "2026-12-03T12:45:51+0000")
        let traditional = try #require(MailLogLine.parse("Dec  3 12:45:02 mail postfix/master[21470]: daemon started"))
        #expect(traditional.timestamp == "Dec  3 12:45:02" && traditional.program == "postfix/master")
        let dovecot = try #require(MailLogLine.parse("Dec 03 12:46:03 imap-login: Info: Disconnected: TLS initialization failed."))
        #expect(dovecot.format == .dovecotLog && dovecot.program == "dovecot" && dovecot.message == "imap-login: Disconnected: TLS initialization failed.")
        let exim = try #require(MailLogLine.parse("2026-12-03 12:48:05 [1234] TLS error on connection from [127.0.0.1] (gnutls_handshake): x"))
        #expect(exim.format == .eximMainlog && exim.pid == "1234" && exim.message.hasPrefix("TLS error"))
        #expect(MailLogLine.parse("name,size") == nil)
        #expect(MailLogLine.parse("Dec  3 12:45:02") == nil)
    }

    @Test("postfix in mail.log, traditional syslog and the journal: the same failures, each tied to its process's other lines")
    func postfixSyslog() throws {
        let expected = [
            // smtpd_tls_chain_files naming a key that is not there: the later `no shared cipher` follows from it.
            "postfix/smtpd inbound KeyFileUnreadable ×1 +1",
            "postfix/smtpd inbound KeyFileUnreadable ×1 +0",         // smtpd_tls_key_file missing (fopen's errno)
            "postfix/smtpd inbound KeyCertificateMismatch ×1 +0",    // key_file of another certificate
            "postfix/smtpd inbound KeyCertificateMismatch ×1 +0",    // chain_files: key at index 1 does not match
            "postfix/smtpd inbound CertificateUnloadable ×1 +0",     // cert_file that is not PEM
            "postfix/smtpd inbound NoSharedCipher ×1 +0",            // ECDSA-only server, RSA-only client
            "postfix/smtpd inbound ProtocolVersionMismatch ×2 +0",   // TLS 1.3-only server, TLS 1.2 client (twice)
            "postfix/smtpd inbound PeerRejectedCertificate ×1 +0",   // the client answered unknown ca
            "postfix/smtpd inbound ClientCertificateMissing ×3 +0",  // smtpd_tls_req_ccert, no client certificate
            "postfix/smtpd inbound PeerCertificateUntrusted ×2 +2",  // client certificate from an unknown CA
            "postfix/smtp outbound PeerRejectedCertificate ×1 +0",   // the server did not trust our client certificate
            "postfix/smtp outbound ClientCertificateMissing ×1 +0",  // the server wanted one, we had none
            "postfix/smtp outbound PeerCertificateUntrusted ×1 +1",  // smtp_tls_security_level = verify
            "postfix/smtp outbound KeyFileUnreadable ×1 +1",         // smtp_tls_key_file missing: TLS engine unavailable
            "postfix/smtp outbound KeyFileUnreadable ×1 +1",         // smtp_tls_chain_files missing: no client certificate
            "postfix/smtp outbound ProtocolVersionMismatch ×1 +1",   // TLS 1.2 client, TLS 1.3 server
        ]
        for name in ["mail.log", "mail-traditional.log", "journal-short-iso.log"] {
            let postfix = try Self.summary(name).filter { $0.hasPrefix("postfix/smtp") }
            // The last group is exim's client rejecting postfix's certificate (sslv3 alert bad certificate).
            #expect(Array(postfix.prefix(expected.count)) == expected, "\(name): \(postfix)")
            #expect(postfix.dropFirst(expected.count).first == "postfix/smtpd inbound PeerRejectedCertificate ×2 +0", "\(name): \(postfix)")
        }
        let groups = try Self.groups("mail.log")
        let missing = try #require(groups.first)
        #expect(missing.paths == ["/tmp/certstore-maillogs/services/SMTP/current/privkey.pem"])
        #expect(missing.detail == "No such file or directory")
        #expect(missing.services == [.smtp])
        let legacy = groups[1]
        #expect(legacy.paths == ["/tmp/certstore-maillogs/pki/missing.key"], "the path of the warning, fopen's adds nothing new")
        #expect(legacy.detail == "No such file or directory", "the first informative OpenSSL reason, not `system lib`")
        #expect(groups[3].paths == ["/tmp/certstore-maillogs/pki/other.key", "/tmp/certstore-maillogs/pki/mail.pem"])
        #expect(groups[3].detail == "private key mismatch")
        #expect(groups[4].detail == "no start line")
        #expect(groups[7].detail == "tlsv1 alert unknown ca")
        #expect(groups[7].first.peer == "localhost[127.0.0.1]")
        let untrusted = groups[12]
        #expect(untrusted.first.peer == "127.0.0.1[127.0.0.1]:2540" && untrusted.detail == "num=64:IP address mismatch")
        #expect(groups[14].paths == ["/tmp/certstore-maillogs/services/connector/current/privkey.pem"])
        #expect(groups[14].services.isEmpty && groups[14].direction == .outbound)
    }

    @Test("dovecot through syslog and in its own file: a key of another certificate, config errors, handshake failures")
    func dovecot() throws {
        let syslog = try Self.summary("mail.log").filter { $0.hasPrefix("dovecot") }
        #expect(syslog == [
            "dovecot/imap-login inbound KeyCertificateMismatch ×2 +1",
            "dovecot/pop3-login inbound KeyCertificateMismatch ×1 +1",
            "dovecot/imap-login inbound NoSharedCipher ×1 +0",
            "dovecot/imap-login inbound PeerRejectedCertificate ×1 +0",
            "dovecot/pop3-login inbound ProtocolVersionMismatch ×1 +0",
            "dovecot/master inbound KeyFileUnreadable ×1 +0",
        ], "\(syslog)")
        let groups = try Self.groups("mail.log").filter { $0.daemon == .dovecot }
        #expect(groups[0].services == [.imap] && groups[1].services == [.pop])
        #expect(groups[0].detail.contains("Key is for a different cert than ssl_cert"))
        #expect(groups[0].first.peer == "127.0.0.1")
        #expect(groups[5].paths == ["/tmp/certstore-maillogs/dovecot/ec.key"] && groups[5].detail == "ssl_key: No such file or directory")
        #expect(groups[5].services == [.imap, .pop])

        #expect(try Self.summary("dovecot.log") == [
            "dovecot/imap-login inbound KeyCertificateMismatch ×1 +1",
            "dovecot/pop3-login inbound KeyCertificateMismatch ×1 +1",
            "dovecot/imap-login inbound CertificateUnloadable ×1 +1",
        ])
    }

    @Test("exim's mainlog (GnuTLS): unreadable and missing keys, a mismatch, a certificate that is not PEM, handshakes, outbound verification")
    func exim() throws {
        #expect(try Self.summary("exim4-mainlog.log") == [
            "exim inbound KeyFileUnreadable ×1 +0",       // 0600 root: exim reads as Debian-exim
            "exim inbound KeyCertificateMismatch ×1 +0",
            "exim inbound KeyFileUnreadable ×1 +0",       // missing
            "exim inbound CertificateUnloadable ×1 +0",   // Base64 decoding error
            "exim inbound NoSharedCipher ×2 +0",          // GnuTLS says so for ciphers and for versions alike
            "exim inbound HandshakeFailed ×1 +0",
            "exim outbound PeerCertificateUntrusted ×2 +0",
        ])
        let groups = try Self.groups("exim4-mainlog.log")
        #expect(groups[0].paths == ["/tmp/certstore-maillogs/exim/keys/mail.pem", "/tmp/certstore-maillogs/exim/keys/root-only.key"])
        #expect(groups[0].first.peer == "(mail.example.com) [127.0.0.1]")
        #expect(groups[6].first.peer == "127.0.0.1 [127.0.0.1]")
    }

    @Test("exim's OpenSSL build (src/tls-openssl.c wordings) and GnuTLS alerts classify like the captured ones")
    func eximOpenSSLWordings() {
        let key = MailLogClassifier.exim("TLS error on connection from mail.example.com [192.0.2.1] (SSL_CTX_use_PrivateKey_file file=/etc/exim4/exim.key): error:80000002:system library::No such file or directory")
        #expect(key == .failure(.keyFileUnreadable, detail: "error:80000002:system library::No such file or directory",
                                peer: "mail.example.com [192.0.2.1]", direction: .inbound, paths: ["/etc/exim4/exim.key"]))
        let chain = MailLogClassifier.exim("TLS error on connection from [192.0.2.1] (SSL_CTX_use_certificate_chain_file file=/etc/exim4/exim.crt): error:0480006C:PEM routines::no start line")
        if case .failure(let kind, _, _, _, let paths)? = chain {
            #expect(kind == .certificateUnloadable && paths == ["/etc/exim4/exim.crt"])
        } else {
            Issue.record("not a failure: \(String(describing: chain))")
        }
        let outbound = MailLogClassifier.exim("TLS error on connection to mx.fabrikam.com [192.0.2.7] (SSL_connect): error:0A000418:SSL routines::tlsv1 alert unknown ca")
        if case .failure(let kind, _, let peer, let direction, _)? = outbound {
            #expect(kind == .peerRejectedCertificate && direction == .outbound && peer == "mx.fabrikam.com [192.0.2.7]")
        } else {
            Issue.record("not a failure: \(String(describing: outbound))")
        }
    }

    @Test("OpenSSL error strings: the reason field, OpenSSL 3 and 1.1 layouts")
    func openSSLReasons() {
        #expect(MailLogClassifier.openSSLReason("error:0A0000C1:SSL routines::no shared cipher:../ssl/statem/statem_srvr.c:2226:") == "no shared cipher")
        #expect(MailLogClassifier.openSSLReason("error:1408A0C1:SSL routines:ssl3_get_client_hello:no shared cipher:s3_srvr.c:1417:") == "no shared cipher")
        #expect(MailLogClassifier.kind(forReason: "sslv3 alert bad certificate", direction: .inbound) == .peerRejectedCertificate)
        #expect(MailLogClassifier.kind(forReason: "tlsv13 alert certificate required", direction: .outbound) == .clientCertificateMissing)
        #expect(MailLogClassifier.kind(forReason: "wrong version number", direction: .outbound) == .protocolVersionMismatch)
        #expect(MailLogClassifier.kind(forReason: "unexpected eof while reading", direction: .inbound) == .handshakeFailed)
    }

    @Test("lines of other programs and a handshake error without its reason (a client that went away) are no failures; lines in no format are malformed")
    func noise() throws {
        let dir = try Scratch.makeDirectory("noise")
        let file = dir.appendingPathComponent("mail.log")
        try Data("""
            2026-12-03T12:00:00.000000+00:00 mail CRON[1]: (root) CMD (true)
            2026-12-03T12:00:01.000000+00:00 mail postfix/smtpd[7]: SSL_accept error from unknown[192.0.2.9]: lost connection
            2026-12-03T12:00:01.000001+00:00 mail postfix/smtpd[7]: lost connection after STARTTLS from unknown[192.0.2.9]
            this line is in no format
            2026-12-03T12:00:02.000000+00:00 mail postfix/smtpd[7]: warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading:../ssl/record/rec_layer_s3.c:321:

            """.utf8).write(to: file)
        let result = try MailLogDiagnoser(store: try TestStore().store).diagnose([file])
        #expect(result.linesRead == 5 && result.mailLines == 3, "\(result)")
        #expect(result.malformedCount == 1 && result.malformed.first?.line == 4)
        #expect(result.groups.map(\.kind) == [.handshakeFailed], "a library problem on its own still counts: \(result.groups.map(\.kind))")
    }

    @Test("memory is bounded by processes, not by the log: with a limit of 2 the oldest process's unfinished lines are dropped")
    func boundedProcesses() throws {
        let dir = try Scratch.makeDirectory("bounded")
        let file = dir.appendingPathComponent("mail.log")
        var text = ""
        for pid in 1...3 {
            text += "2026-12-03T12:00:0\(pid).000000+00:00 mail postfix/smtpd[\(pid)]: warning: cannot get RSA private key from file \"/k\(pid)\": disabling TLS support\n"
        }
        try Data(text.utf8).write(to: file)
        var diagnoser = MailLogDiagnoser(store: try TestStore().store)
        diagnoser.maxOpenProcesses = 2
        #expect(try diagnoser.diagnose([file]).groups.map(\.paths) == [["/k2"], ["/k3"]])
        diagnoser.maxOpenProcesses = 10
        #expect(try diagnoser.diagnose([file]).groups.map(\.paths) == [["/k1"], ["/k2"], ["/k3"]])
    }
}
