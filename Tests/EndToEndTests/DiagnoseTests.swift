import Foundation
import Testing

/// `diagnose --protocol-log`: Exchange send protocol logs written by the test (see `ProtocolLog`), explained
/// against a KB 4495258 machine (keyless certificate + renewed twin with key, not yet enabled for SMTP).
@Suite("diagnose")
struct DiagnoseTests {
    static func machine(_ label: String) throws -> KBMachine {
        let m = try KBMachine.build(label)
        try m.importTwin()
        return m
    }

    static func logged(_ cert: TestPKI.Cert, subject: String = TestPKI.mailName, issuer: String? = TestPKI.caName,
                       thumbprint: Bool = true) -> ProtocolLog.Certificate {
        ProtocolLog.Certificate(subject: subject, issuer: issuer, serial: cert.serial, thumbprint: thumbprint ? cert.thumbprint : nil,
                                alternateNames: ["mail.contoso.com", "autodiscover.contoso.com"])
    }

    static func diagnose(_ m: KBMachine, _ paths: [URL], sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [String: Any]) {
        let result = try certstore(["diagnose", "--protocol-log"] + paths.map(\.path) + ["--format", "json"] + m.args, sourceLocation: sourceLocation)
        return (result, try parseJSONObject(result.stdout))
    }

    static func groups(_ json: [String: Any]) -> [[String: Any]] { json["groups"] as? [[String: Any]] ?? [] }
    static func diagnosis(_ group: [String: Any]?) -> [String: Any] { group?["diagnosis"] as? [String: Any] ?? [:] }

    @Test("NoCredentials on the keyless certificate (six-row block): exit 1, KB 4495258, cause PrivateKeyMissing, matched by thumbprint")
    func noCredentials() throws {
        let m = try Self.machine("diag-nocred")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless))
        let failure = try #require(log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials").failureLine)
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        #expect(try String(contentsOf: file, encoding: .utf8).contains("\r\n\"CN=") == false, "rows start with the date")
        #expect(try String(contentsOf: file, encoding: .utf8).contains(",\"\(TestPKI.mailName)\",Certificate subject\r\n"),
                "subjects with commas are CSV-quoted, lines end in CRLF")

        let text = try certstore(expecting: 1, ["diagnose", "--protocol-log", file.path] + m.args)
        #expect(text.stdout.hasPrefix("1 TLS failure in 1 file"), "\(text)")
        #expect(text.stdout.contains("\(KBMachine.connector): TLS negotiation failed with error NoCredentials"), "\(text)")
        #expect(text.stdout.contains("KB 4495258"), "\(text)")
        #expect(text.stdout.contains("SEND20261128-1.log:\(failure)"), "\(text)")
        #expect(text.stdout.contains("certstore --root \(m.t.rootPath) remove \(m.keyless.thumbprint)"), "suggested commands act on the store looked at: \(text)")

        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1)
        #expect(json["failures"] as? Int == 1)
        #expect(json["sessions"] as? Int == 2)
        #expect(json["malformedLines"] as? Int == 0)
        let group = Self.groups(json).first
        #expect(Self.groups(json).count == 1)
        #expect(group?["connector"] as? String == KBMachine.connector)
        #expect(group?["error"] as? String == "NoCredentials")
        #expect((group?["first"] as? [String: Any])?["line"] as? Int == failure)
        let certificate = group?["certificate"] as? [String: Any]
        #expect(certificate?["subject"] as? String == TestPKI.mailName, "\(json)")
        #expect(certificate?["issuer"] as? String == TestPKI.caName)
        #expect(certificate?["serialNumber"] as? String == m.keyless.serial)
        #expect(certificate?["alternateNames"] as? [String] == ["mail.contoso.com", "autodiscover.contoso.com"])
        let d = Self.diagnosis(group)
        #expect(d["cause"] as? String == "PrivateKeyMissing", "\(json)")
        #expect(d["thumbprint"] as? String == m.keyless.thumbprint)
        #expect(d["matchedBy"] as? String == "thumbprint")
        #expect(d["hasPrivateKey"] as? Bool == false)
        #expect(d["store"] as? String == "LocalMachine/My")
        #expect(d["twins"] as? [String] == [m.twin.thumbprint], "\(d)")
        #expect((d["explanation"] as? String)?.contains("KB 4495258") == true)
        #expect((d["fix"] as? [String])?.contains("certstore --root \(m.t.rootPath) remove \(m.keyless.thumbprint)") == true, "\(d)")
    }

    @Test("UnknownCredentials with a keyed certificate not enabled for SMTP: cause SmtpNotEnabled (KB 4051498); once enabled, KeyPresentNow")
    func unknownCredentials() throws {
        let m = try Self.machine("diag-unknowncred")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.twin), error: "UnknownCredentials")
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))

        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1, "\(result)")
        let d = Self.diagnosis(Self.groups(json).first)
        #expect(d["cause"] as? String == "SmtpNotEnabled", "\(json)")
        #expect(d["thumbprint"] as? String == m.twin.thumbprint)
        #expect(d["hasPrivateKey"] as? Bool == true)
        #expect((d["explanation"] as? String)?.contains("KB 4051498") == true, "\(d)")
        #expect(d["fix"] as? [String] == ["certstore --root \(m.t.rootPath) enable \(m.twin.thumbprint) --services SMTP --keep-default"], "\(d)")

        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        let (_, after) = try Self.diagnose(m, [file])
        #expect(Self.diagnosis(Self.groups(after).first)["cause"] as? String == "KeyPresentNow", "\(after)")
    }

    @Test("a certificate that is not in the store: cause NotInStore, matched by nothing")
    func notInStore() throws {
        let m = try Self.machine("diag-notinstore")
        let stranger = try m.pki.issue("stranger", subject: "/O=Fabrikam/CN=mail.fabrikam.com", dnsNames: ["mail.fabrikam.com"])
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector,
                    certificate: Self.logged(stranger, subject: "CN=mail.fabrikam.com, O=Fabrikam"), error: "NoCredentials")
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1, "\(result)")
        let d = Self.diagnosis(Self.groups(json).first)
        #expect(d["cause"] as? String == "NotInStore", "\(json)")
        #expect(d["matchedBy"] as? String == "none")
        #expect(d["thumbprint"] is NSNull)
        #expect((d["explanation"] as? String)?.contains(stranger.thumbprint) == true, "\(d)")
    }

    @Test("after the fix (keyless certificate in the trash), yesterday's NoCredentials names it NotInStore with its trash entry, not the twin")
    func afterTheFix() throws {
        let m = try Self.machine("diag-afterfix")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials")
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let removed = try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        let id = try #require(trashID(in: removed.stdout))
        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)

        let (_, json) = try Self.diagnose(m, [file])
        let d = Self.diagnosis(Self.groups(json).first)
        #expect(d["cause"] as? String == "NotInStore", "\(json)")
        #expect(d["trashId"] as? String == id, "\(d)")
        #expect(d["thumbprint"] as? String != m.twin.thumbprint, "the failure was not the twin's: \(d)")
    }

    @Test("without a thumbprint row the certificate is matched by serial number and issuer (twins told apart)")
    func serialAndIssuer() throws {
        let m = try Self.machine("diag-serial")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless, thumbprint: false), error: "NoCredentials")
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.twin, thumbprint: false), error: "UnknownCredentials")
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1, "\(result)")
        let groups = Self.groups(json)
        #expect(groups.count == 2, "\(json)")
        let first = Self.diagnosis(groups.first), second = Self.diagnosis(groups.dropFirst().first)
        #expect(first["matchedBy"] as? String == "serialAndIssuer", "\(json)")
        #expect(first["thumbprint"] as? String == m.keyless.thumbprint)
        #expect(first["cause"] as? String == "PrivateKeyMissing")
        #expect(second["matchedBy"] as? String == "serialAndIssuer")
        #expect(second["thumbprint"] as? String == m.twin.thumbprint)
        #expect(second["cause"] as? String == "SmtpNotEnabled")
        #expect((groups.first?["certificate"] as? [String: Any])?["thumbprint"] is NSNull)
    }

    @Test("the newer single-row \"Sending certificate\" form is read: subject, issuer, serial, thumbprint, domains")
    func singleRowForm() throws {
        let m = try Self.machine("diag-singlerow")
        // `openssl ca` numbers serials from a short counter (x509 -CAcreateserial makes 40-digit ones: see below).
        let smtp = try m.pki.issue("smtp", subject: "/O=Contoso Ltd/CN=smtp.contoso.com", notBeforeDaysAgo: 0, dnsNames: ["smtp.contoso.com"])
        #expect(smtp.serial.count < 40, "\(smtp.serial)")
        try certstore(expecting: 0, ["import", try m.pki.cer(smtp).path] + m.args)
        try Self.expectSingleRow(m, smtp, subject: "CN=smtp.contoso.com, O=Contoso Ltd")
    }

    @Test("the single-row form with a 20-byte serial (40 hex digits, as openssl x509 -CAcreateserial and many CAs make) is read right")
    func singleRowFormLongSerial() throws {
        let m = try Self.machine("diag-singlerow-long")
        // openssl's random serial is 159 bits: 40 hex digits, or 38 when its first byte happens to be zero (about
        // one run in 128, which once failed this test); either is far longer than `openssl ca`'s counters.
        #expect([38, 40].contains(m.keyless.serial.count), "\(m.keyless.serial)")
        try Self.expectSingleRow(m, m.keyless, subject: TestPKI.mailName)
    }

    static func expectSingleRow(_ m: KBMachine, _ cert: TestPKI.Cert, subject: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(cert, subject: subject), form: .singleRow, error: "NoCredentials")
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let (result, json) = try Self.diagnose(m, [file], sourceLocation: sourceLocation)
        #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
        let group = Self.groups(json).first
        let certificate = group?["certificate"] as? [String: Any]
        #expect(certificate?["subject"] as? String == subject, "\(json)", sourceLocation: sourceLocation)
        #expect(certificate?["issuer"] as? String == TestPKI.caName, sourceLocation: sourceLocation)
        #expect(certificate?["serialNumber"] as? String == cert.serial, sourceLocation: sourceLocation)
        #expect(certificate?["thumbprint"] as? String == cert.thumbprint, sourceLocation: sourceLocation)
        #expect(certificate?["alternateNames"] as? [String] == ["mail.contoso.com", "autodiscover.contoso.com"], sourceLocation: sourceLocation)
        let d = Self.diagnosis(group)
        #expect(d["cause"] as? String == "PrivateKeyMissing", sourceLocation: sourceLocation)
        #expect(d["matchedBy"] as? String == "thumbprint", sourceLocation: sourceLocation)
        #expect(d["thumbprint"] as? String == cert.thumbprint, sourceLocation: sourceLocation)
    }

    @Test("a directory is searched for *.log, including its SmtpSend/ subfolder; failures across files group together")
    func directoryOfLogs() throws {
        let m = try Self.machine("diag-dir")
        let root = m.t.path("TransportRoles/Logs")
        var one = ProtocolLog(), two = ProtocolLog(firstSession: 100)
        one.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials")
        one.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless))
        one.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials")
        let last = try #require(two.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials").failureLine)
        try one.write(to: root.appendingPathComponent("SmtpSend/SEND20261128-1.log"))
        try two.write(to: root.appendingPathComponent("SmtpSend/SEND20261128-2.log"))
        try Data("not a log\n".utf8).write(to: root.appendingPathComponent("SmtpSend/README.txt"))

        let text = try certstore(expecting: 1, ["diagnose", "--protocol-log", root.path] + m.args)
        #expect(text.stdout.hasPrefix("3 TLS failures in 2 files"), "\(text)")
        let (_, json) = try Self.diagnose(m, [root])
        #expect(json["files"] as? [String] == ["SEND20261128-1.log", "SEND20261128-2.log"], "\(json)")
        #expect(json["failures"] as? Int == 3)
        #expect(json["sessions"] as? Int == 4)
        let groups = Self.groups(json)
        #expect(groups.count == 1)
        #expect(groups.first?["count"] as? Int == 3)
        #expect((groups.first?["first"] as? [String: Any])?["file"] as? String == "SEND20261128-1.log")
        #expect((groups.first?["last"] as? [String: Any])?["file"] as? String == "SEND20261128-2.log")
        #expect((groups.first?["last"] as? [String: Any])?["line"] as? Int == last)
    }

    @Test("malformed lines (unbalanced quote, wrong field count) are reported on stderr with file:line and skipped; later failures are still found")
    func malformedLines() throws {
        let m = try Self.machine("diag-malformed")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless))
        let unbalanced = log.raw("2026-11-28T09:20:00.000Z,\(KBMachine.connector),08DE2F1AFFFFFFFF,0,,104.47.2.36:25,*,\"CN=broken, O=Contoso,Certificate subject")
        let short = log.raw("2026-11-28T09:20:00.001Z,\(KBMachine.connector),08DE2F1AFFFFFFFF,1,,*")
        let failure = try #require(log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials").failureLine)
        let file = try log.write(to: m.t.path("logs/SEND20261128-9.log"))

        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("SEND20261128-9.log:\(unbalanced): malformed line skipped"), "\(result)")
        #expect(result.stderr.contains("SEND20261128-9.log:\(short): malformed line skipped"), "\(result)")
        #expect(json["malformedLines"] as? Int == 2)
        #expect(json["failures"] as? Int == 1)
        #expect((Self.groups(json).first?["first"] as? [String: Any])?["line"] as? Int == failure)
        #expect(Self.diagnosis(Self.groups(json).first)["cause"] as? String == "PrivateKeyMissing")
    }

    @Test("a log without TLS failures: exit 0")
    func noFailures() throws {
        let m = try Self.machine("diag-clean")
        var log = ProtocolLog()
        for _ in 0..<3 { log.session(connector: KBMachine.connector, certificate: Self.logged(m.twin)) }
        let file = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let text = try certstore(expecting: 0, ["diagnose", "--protocol-log", file.path] + m.args)
        #expect(text.stdout.hasPrefix("0 TLS failures in 1 file"), "\(text)")
        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 0)
        #expect(json["failures"] as? Int == 0)
        #expect(json["sessions"] as? Int == 3)
        #expect(Self.groups(json).isEmpty)
    }

    @Test("a path that does not exist (even next to a good log), or a directory without logs: exit 66")
    func missingPath() throws {
        let m = try Self.machine("diag-missing")
        var log = ProtocolLog()
        log.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials")
        let good = try log.write(to: m.t.path("logs/SEND20261128-1.log"))
        let missing = m.t.path("logs/SEND-nope.log")
        let alone = try certstore(expecting: 66, ["diagnose", "--protocol-log", missing.path] + m.args)
        #expect(alone.stderr.contains(missing.path), "\(alone)")
        try certstore(expecting: 66, ["diagnose", "--protocol-log", good.path, missing.path] + m.args)
        let empty = m.t.path("no-logs-here")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try certstore(expecting: 66, ["diagnose", "--protocol-log", empty.path] + m.args)
        #expect(none.stderr.contains("no .log files"), "\(none)")
    }

    @Test("200,000 rows stream through: every row and session counted, every failure found")
    func largeLog() throws {
        let m = try Self.machine("diag-large")
        // Two 20-row session templates from ProtocolLog, repeated with fresh session ids (fast to write).
        var ok = ProtocolLog(header: false), bad = ProtocolLog(header: false)
        let (_, okRows) = ok.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), padTo: 20)
        let (badLine, badRows) = bad.session(connector: KBMachine.connector, certificate: Self.logged(m.keyless), error: "NoCredentials", padTo: 20)
        #expect(okRows == 20 && badRows == 20)
        let failureOffset = try #require(badLine)
        let placeholder = ok.lines[0].split(separator: ",")[2]
        let header = ProtocolLog()
        // Each template as byte pieces around its session id, so writing 10,000 sessions is only appending.
        func pieces(_ log: ProtocolLog) -> [Data] { log.text.components(separatedBy: String(placeholder)).map { Data($0.utf8) } }
        let okPieces = pieces(ok), badPieces = pieces(bad)
        var data = Data(header.text.utf8)
        data.reserveCapacity(26_000_000)
        var failures: [Int] = []
        for index in 0..<10_000 {
            let failing = index % 100 == 99
            let session = Data(String(format: "08DE2F1A%08X", 0x100000 + index).utf8)
            let template = failing ? badPieces : okPieces
            data.append(template[0])
            for piece in template.dropFirst() { data.append(session); data.append(piece) }
            if failing { failures.append(header.lines.count + index * 20 + failureOffset) }
        }
        let file = try m.t.write("SEND20261128-big.log", data)
        // Speed is measured in Benchmarks/, not asserted here: a shared CI machine's clock says nothing.
        let (result, json) = try Self.diagnose(m, [file])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(json["linesRead"] as? Int == 200_000, "\(json["linesRead"] ?? "nil")")
        #expect(json["sessions"] as? Int == 10_000)
        #expect(json["failures"] as? Int == 100)
        #expect(json["malformedLines"] as? Int == 0)
        let groups = Self.groups(json)
        #expect(groups.count == 1)
        #expect(groups.first?["count"] as? Int == 100)
        #expect((groups.first?["first"] as? [String: Any])?["line"] as? Int == failures.first)
        #expect((groups.first?["last"] as? [String: Any])?["line"] as? Int == failures.last)
    }
}
