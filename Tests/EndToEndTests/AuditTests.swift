import Foundation
import Testing

/// `audit`: monitoring-plugin exit codes, expiry thresholds, file checks, JSON, and Prometheus text format
/// checked with a real parser (python3's prometheus_client).
@Suite("audit")
struct AuditTests {
    /// CA in Root; one CA-issued EC leaf with key, valid `days` days from now, bound to SMTP (the default).
    static func boundStore(_ label: String, days: Int = 365) throws -> (TestDirectory, TestPKI, TestPKI.Cert) {
        let t = try TestDirectory(label)
        let pki = try TestPKI(in: t.path("pki"))
        let leaf = try pki.issue("leaf", subject: TestPKI.mailSubject, days: days, dnsNames: ["mail.contoso.com"])
        try certstore(expecting: 0, ["import", pki.ca.pem.path, "--store", "LocalMachine/Root"] + t.rootArgs)
        try certstore(expecting: 0, ["import", try pki.withKey(leaf).path] + t.rootArgs)
        try certstore(expecting: 0, ["enable", leaf.thumbprint, "--services", "SMTP"] + t.rootArgs)
        return (t, pki, leaf)
    }

    static func audit(_ t: TestDirectory, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> (CommandResult, [String: Any]) {
        let result = try certstore(["audit", "--format", "json"] + extra + t.rootArgs, sourceLocation: sourceLocation)
        return (result, try parseJSONObject(result.stdout))
    }

    static func keysDirectory(_ t: TestDirectory) -> URL { t.root.appendingPathComponent("LocalMachine/Keys", isDirectory: true) }

    // MARK: exit codes and thresholds

    enum Expiry: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case ok365, warning45, critical10
        var days: Int { switch self { case .ok365: 365; case .warning45: 45; case .critical10: 10 } }
        var status: Int32 { switch self { case .ok365: 0; case .warning45: 1; case .critical10: 2 } }
        var name: String { switch self { case .ok365: "OK"; case .warning45: "WARNING"; case .critical10: "CRITICAL" } }
        var testDescription: String { rawValue }
    }

    @Test("exit 0 OK, 1 WARNING (bound certificate expires in ~45 days), 2 CRITICAL (~10 days), by default thresholds 60/30",
          arguments: Expiry.allCases)
    func expiryExitCodes(_ expiry: Expiry) throws {
        let (t, _, leaf) = try Self.boundStore("audit-\(expiry.rawValue)", days: expiry.days)
        let text = try certstore(expecting: expiry.status, ["audit"] + t.rootArgs)
        #expect(text.stdout.split(separator: "\n").last?.hasPrefix("\(expiry.name):") == true, "\(text)")
        let (result, report) = try Self.audit(t)
        #expect(result.status == expiry.status, "\(result)")
        #expect(report["status"] as? String == expiry.name)
        #expect(report["exitCode"] as? Int == Int(expiry.status))
        let expiring = auditFindings(report).filter { $0["check"] as? String == "certificate-expiring" }
        if expiry == .ok365 {
            #expect(expiring.isEmpty, "\(report)")
            #expect(text.stdout.contains("Nothing to report."), "\(text)")
        } else {
            #expect(expiring.count == 1, "\(report)")
            #expect(expiring.first?["severity"] as? String == expiry.name)
            #expect(expiring.first?["object"] as? String == leaf.thumbprint)
            #expect((expiring.first?["title"] as? String)?.contains("expires in \(expiry.days - 1) days") == true, "\(expiring)")
        }
    }

    @Test("exit 3 UNKNOWN when --root holds no store location", arguments: [false, true])
    func unknownWithoutLocation(_ rootExists: Bool) throws {
        let t = try TestDirectory("audit-unknown")
        if rootExists { try FileManager.default.createDirectory(at: t.root, withIntermediateDirectories: true) }
        let text = try certstore(expecting: 3, ["audit"] + t.rootArgs)
        #expect(text.stdout.contains("UNKNOWN"), "\(text)")
        let (result, report) = try Self.audit(t)
        #expect(result.status == 3)
        #expect(report["status"] as? String == "UNKNOWN")
        #expect(auditFindings(report).first?["check"] as? String == "location-missing", "\(report)")
        #expect(!FileManager.default.fileExists(atPath: t.root.appendingPathComponent("LocalMachine").path), "audit creates nothing")
    }

    @Test("--warning-days / --critical-days move the thresholds", arguments: [
        (45, 30, 10, Int32(0)), (45, 90, 50, Int32(2)), (45, 90, 10, Int32(1)), (10, 20, 5, Int32(1)), (10, 5, 2, Int32(0)),
    ])
    func thresholds(_ days: Int, _ warning: Int, _ critical: Int, _ status: Int32) throws {
        let (t, _, _) = try Self.boundStore("audit-thresholds", days: days)
        let (result, report) = try Self.audit(t, ["--warning-days", String(warning), "--critical-days", String(critical)])
        #expect(result.status == status, "\(days) days left, --warning-days \(warning) --critical-days \(critical):\n\(result)")
        #expect(report["exitCode"] as? Int == Int(status))
    }

    @Test("--critical-days above --warning-days: exit 3 UNKNOWN (the plugin cannot check), with an error on stderr")
    func inconsistentThresholds() throws {
        let (t, _, _) = try Self.boundStore("audit-badthresholds")
        let result = try certstore(expecting: 3, ["audit", "--warning-days", "5", "--critical-days", "10"] + t.rootArgs)
        #expect(result.stderr.contains("--critical-days"), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    // MARK: files

    @Test("a private key file readable by others (chmod 644) is CRITICAL key-file-permissions; a 0755 Keys directory too")
    func loosePermissions() throws {
        let (t, pki, leaf) = try Self.boundStore("audit-perms")
        let key = Self.keysDirectory(t).appendingPathComponent(try pki.keyFileName(try #require(leaf.key)))
        #expect(octal(fileMode(key)) == "0600")
        #expect(chmod(key.path, 0o644) == 0)
        let (result, report) = try Self.audit(t)
        #expect(result.status == 2, "\(result)")
        let finding = auditFindings(report).first { $0["check"] as? String == "key-file-permissions" }
        #expect(finding?["severity"] as? String == "CRITICAL", "\(report)")
        #expect(finding?["object"] as? String == key.path)
        #expect((finding?["fix"] as? [String]) == ["certstore --root \(t.rootPath) check --repair"], "a complete command: \(String(describing: finding))")
        #expect((finding?["detail"] as? String)?.contains("644") == true, "\(String(describing: finding))")

        #expect(chmod(key.path, 0o600) == 0)
        #expect(chmod(Self.keysDirectory(t).path, 0o755) == 0)
        let (dirResult, dirReport) = try Self.audit(t)
        #expect(dirResult.status == 2, "\(dirResult)")
        #expect(auditFindings(dirReport).contains { $0["check"] as? String == "key-directory-permissions" && $0["severity"] as? String == "CRITICAL" })

        #expect(chmod(Self.keysDirectory(t).path, 0o700) == 0)
        try certstore(expecting: 0, ["audit"] + t.rootArgs)
    }

    @Test("an orphan key (its certificate removed, the key left behind) is a WARNING naming the key file")
    func orphanKey() throws {
        let (t, pki, _) = try Self.boundStore("audit-orphan")
        let relay = try pki.issue("relay", subject: "/CN=relay.contoso.com", dnsNames: ["relay.contoso.com"])
        try certstore(expecting: 0, ["import", try pki.withKey(relay).path] + t.rootArgs)
        try certstore(expecting: 0, ["audit"] + t.rootArgs)
        try certstore(expecting: 0, ["remove", relay.thumbprint] + t.rootArgs)

        let key = Self.keysDirectory(t).appendingPathComponent(try pki.keyFileName(try #require(relay.key)))
        #expect(FileManager.default.fileExists(atPath: key.path), "remove without --delete-key keeps the key")
        let (result, report) = try Self.audit(t)
        #expect(result.status == 1, "\(result)")
        let finding = auditFindings(report).first { $0["check"] as? String == "orphan-key" }
        #expect(finding?["severity"] as? String == "WARNING", "\(report)")
        #expect(finding?["object"] as? String == key.path)

        // The certificate coming back re-links the key: nothing to report.
        try certstore(expecting: 0, ["import", relay.pem.path] + t.rootArgs)
        try certstore(expecting: 0, ["audit"] + t.rootArgs)
    }

    @Test("a leftover temporary file (.X.tmp-1-2) in My is a WARNING naming it")
    func leftoverTemporaryFile() throws {
        let (t, _, _) = try Self.boundStore("audit-tmp")
        let debris = t.storeDirectory("My").appendingPathComponent(".X.tmp-1-2")
        try Data("half a write".utf8).write(to: debris)
        let (result, report) = try Self.audit(t)
        #expect(result.status == 1, "\(result)")
        let finding = auditFindings(report).first { $0["check"] as? String == "leftover-temporary-file" }
        #expect(finding?["severity"] as? String == "WARNING", "\(report)")
        #expect(finding?["object"] as? String == debris.path)
        #expect(FileManager.default.fileExists(atPath: debris.path), "audit only reports; it deletes nothing")
        try FileManager.default.removeItem(at: debris)
        try certstore(expecting: 0, ["audit"] + t.rootArgs)
    }

    // MARK: formats

    @Test("--format json: status, exitCode, summary, findings (each with severity/check/object/title/detail/fix), remediationPlan, connectors")
    func jsonReport() throws {
        let m = try KBMachine.build("audit-json")
        try m.importTwin()  // the renewal is there: the plan can name it
        let (result, report) = try m.audit()
        #expect(result.status == 2, "\(result)")
        #expect(report["status"] as? String == "CRITICAL")
        #expect(report["exitCode"] as? Int == 2)
        #expect(report["location"] as? String == "LocalMachine")
        #expect(report["checkedAt"] is String)
        let findings = try #require(report["findings"] as? [[String: Any]], "\(report)")
        #expect(!findings.isEmpty)
        for finding in findings {
            for key in ["severity", "check", "object", "title", "detail"] {
                #expect(finding[key] is String, "\(key) in \(finding)")
            }
            #expect(finding["fix"] is [String], "\(finding)")
            #expect(["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(finding["severity"] as? String ?? ""))
        }
        let summary = try #require(report["summary"] as? [String: Int], "\(report)")
        for (key, name) in [("critical", "CRITICAL"), ("warning", "WARNING"), ("unknown", "UNKNOWN")] {
            #expect(summary[key] == findings.filter { $0["severity"] as? String == name }.count, "\(key): \(summary)")
        }
        let plan = try #require(report["remediationPlan"] as? [String], "\(report)")
        #expect(plan.allSatisfy { $0.hasPrefix("certstore --root \(m.t.rootPath) ") }, "every step acts on the audited root: \(plan)")
        #expect(plan.last == "certstore --root \(m.t.rootPath) remove \(m.keyless.thumbprint)", "\(plan)")
        let connectors = try #require(report["connectors"] as? [[String: Any]])
        #expect(connectors.count == 1)
        #expect(connectors.first?["name"] as? String == KBMachine.connector)
        #expect(connectors.first?["thumbprint"] as? String == m.keyless.thumbprint)
        #expect(connectors.first?["usable"] as? Bool == false)
    }

    static let prometheusClientAvailable: Bool = {
        guard let result = try? runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import prometheus_client"], timeout: 30)
        else { return false }
        return result.status == 0
    }()

    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// Parses Prometheus text exposition with prometheus_client's own parser (it raises on malformed input).
    static func parsePrometheus(_ text: String, in t: TestDirectory) throws -> [Sample] {
        let file = try t.write("metrics.prom", text)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
                for s in family.samples:
                    out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
            print(json.dumps(out))
            """
        let result = try runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, file.path], timeout: 60)
        guard result.status == 0 else { throw RunnerError("prometheus_client rejected the exposition:\n\(result)\n\(text)") }
        return try parseJSONArray(result.stdout).map { object in
            guard object["type"] as? String == "gauge" else { throw RunnerError("not a gauge: \(object)") }
            return Sample(name: object["name"] as? String ?? "", labels: object["labels"] as? [String: String] ?? [:],
                          value: (object["value"] as? NSNumber)?.doubleValue ?? .nan)
        }
    }

    @Test("--format prometheus parses with prometheus_client: status, NotAfter, HasPrivateKey, connector usability; label escaping of \" and \\",
          .enabled(if: AuditTests.prometheusClientAvailable, "python3 with prometheus_client is required: pip install prometheus-client"))
    func prometheus() throws {
        let m = try KBMachine.build("audit-prom")
        let odd = try m.pki.issue("odd", subject: "/O=Contoso Ltd/CN=odd \\\"quoted\\\" back\\\\slash", dnsNames: ["odd.contoso.com"])
        try certstore(expecting: 0, ["import", try m.pki.withKey(odd).path] + m.args)
        let oddSubject = try #require(try parseJSONArray(try certstore(expecting: 0, ["list", "--format", "json"] + m.args).stdout)
            .first { $0["thumbprint"] as? String == odd.thumbprint }?["subject"] as? String)
        #expect(oddSubject.contains("\"") && oddSubject.contains("\\"), "the subject really holds a quote and a backslash: \(oddSubject)")

        let result = try certstore(expecting: 2, ["audit", "--format", "prometheus"] + m.args)
        let samples = try Self.parsePrometheus(result.stdout, in: m.t)
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            let found = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
            return found.count == 1 ? found[0].value : nil
        }
        #expect(value("certstore_audit_status", ["location": "LocalMachine", "host": Self.hostName]) == 2, "\(result.stdout)")
        #expect(value("certstore_audit_up", ["location": "LocalMachine", "host": Self.hostName]) == 1, "\(result.stdout)")
        // The KB finding, with what an alert needs: connector, the keyless thumbprint, its subject, the exact fix.
        let kb = samples.filter { $0.name == "certstore_finding" && $0.labels["check"] == "connector-keyless-certificate" }
        #expect(kb.count == 1 && kb.first?.value == 1, "\(result.stdout)")
        #expect(kb.first?.labels["connector"] == KBMachine.connector)
        #expect(kb.first?.labels["thumbprint"] == m.keyless.thumbprint)
        #expect(kb.first?.labels["subject"] == TestPKI.mailName)
        #expect(kb.first?.labels["severity"] == "critical")
        #expect(kb.first?.labels["title"]?.contains("NoCredentials (KB 4495258)") == true)
        let auditJSON = try parseJSONObject(try certstore(expecting: 2, ["audit", "--format", "json"] + m.args).stdout)
        let kbFix = auditFindings(auditJSON).first { $0["check"] as? String == "connector-keyless-certificate" }?["fix"] as? [String]
        #expect(kb.first?.labels["fix"] == kbFix?.joined(separator: "; "), "the fix label is the fix audit prints")
        // Every sample of a family has the same label names (node_exporter refuses a family that does not).
        for name in Set(samples.map(\.name)) {
            #expect(Set(samples.filter { $0.name == name }.map { Set($0.labels.keys) }).count == 1, "\(name)")
        }

        let keylessNotAfter = try m.pki.notAfter(m.keyless).timeIntervalSince1970
        #expect(value("certstore_certificate_not_after_seconds", ["thumbprint": m.keyless.thumbprint, "store": "LocalMachine/My",
                                                                  "subject": TestPKI.mailName]) == keylessNotAfter, "\(result.stdout)")
        #expect(value("certstore_certificate_not_after_seconds", ["thumbprint": m.pki.ca.thumbprint, "store": "LocalMachine/Root"])
                == (try m.pki.notAfter(m.pki.ca).timeIntervalSince1970))
        #expect(value("certstore_certificate_has_private_key", ["thumbprint": m.keyless.thumbprint]) == 0)
        #expect(value("certstore_certificate_has_private_key", ["thumbprint": m.exch01.thumbprint, "subject": "CN=EXCH01"]) == 1)
        #expect(value("certstore_certificate_has_private_key", ["thumbprint": odd.thumbprint, "subject": oddSubject]) == 1,
                "label escaping must round-trip the subject \(oddSubject):\n\(result.stdout)")
        #expect(value("certstore_certificate_not_after_seconds", ["thumbprint": odd.thumbprint, "subject": oddSubject])
                == (try m.pki.notAfter(odd).timeIntervalSince1970))
        #expect(value("certstore_connector_usable", ["connector": KBMachine.connector, "thumbprint": m.keyless.thumbprint,
                                                     "status": "TlsCertificateMatch"]) == 0, "\(result.stdout)")
        #expect(value("certstore_default_smtp_certificate", ["thumbprint": m.exch01.thumbprint]) == 1)

        // With the renewed twin in the store, the finding's fix label is audit's runnable plan: remove, enable.
        try m.importTwin()
        let withTwin = try Self.parsePrometheus(try certstore(expecting: 2, ["audit", "--format", "prometheus"] + m.args).stdout, in: m.t)
        let twinFix = withTwin.first { $0.name == "certstore_finding" && $0.labels["check"] == "connector-keyless-certificate" }?.labels["fix"] ?? ""
        #expect(twinFix.contains(" remove \(m.keyless.thumbprint)") && twinFix.contains(" enable \(m.twin.thumbprint) --services SMTP"), "\(twinFix)")

        // After the KB fix the same metrics say so.
        try certstore(expecting: 0, ["remove", m.keyless.thumbprint] + m.args)
        try certstore(expecting: 0, ["enable", m.twin.thumbprint, "--services", "SMTP", "--keep-default"] + m.args)
        let fixed = try certstore(["audit", "--format", "prometheus"] + m.args)
        let after = try Self.parsePrometheus(fixed.stdout, in: m.t)
        let status = after.first { $0.name == "certstore_audit_status" }?.value
        #expect(status == Double(fixed.status), "\(fixed)")
        #expect(status == 0 || status == 1)
        #expect(after.first { $0.name == "certstore_connector_usable" && $0.labels["connector"] == KBMachine.connector }?.value == 1, "\(fixed.stdout)")
        #expect(after.first { $0.name == "certstore_connector_usable" }?.labels["thumbprint"] == m.twin.thumbprint)
        #expect(!after.contains { $0.labels["thumbprint"] == m.keyless.thumbprint }, "the removed certificate has no series left")
        #expect(!after.contains { $0.name == "certstore_finding" && $0.labels["severity"] == "critical" }, "\(fixed.stdout)")
    }

    /// gethostname(2): the `host` label.
    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }()

    @Test("an audit that cannot run (an unknown --store): exit 3, and --format prometheus --output says certstore_audit_up 0 with the error, replacing the old findings")
    func prometheusWhenTheAuditCannotRun() throws {
        let m = try KBMachine.build("audit-promfail")
        let directory = m.t.path("textfile")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent("certstore.prom")
        try certstore(expecting: 2, ["audit", "--format", "prometheus", "--output", out.path] + m.args)
        #expect(try String(contentsOf: out, encoding: .utf8).contains("certstore_finding{"))

        let failed = try certstore(expecting: 3, ["audit", "--format", "prometheus", "--output", out.path, "--store", "LocalMachine/Nope"] + m.args)
        #expect(failed.stderr.contains("error:"), "\(failed)")
        #expect(failed.stdout.isEmpty, "\(failed)")
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.contains("certstore_audit_up{host=\"\(Self.hostName)\",location=\"LocalMachine\"} 0\n"), "\(text)")
        #expect(text.contains("certstore_audit_status{host=\"\(Self.hostName)\",location=\"LocalMachine\"} 3\n"), "\(text)")
        #expect(!text.contains("certstore_finding{"), "the old findings are no longer claimed:\n\(text)")
        if Self.prometheusClientAvailable {
            let samples = try Self.parsePrometheus(text, in: m.t)
            let error = samples.first { $0.name == "certstore_audit_error" }
            #expect(error?.value == 1 && error?.labels["error"]?.contains("Nope") == true, "\(text)")
            let stamp = try #require(samples.first { $0.name == "certstore_audit_timestamp_seconds" }?.value)
            #expect(abs(stamp - Date().timeIntervalSince1970) < 120, "\(stamp)")
        }
    }

    @Test("audit --format prometheus --output FILE: the file is written (0644 even under umask 000, replacing an old one), stdout stays empty, exit code unchanged")
    func prometheusOutputFile() throws {
        let m = try KBMachine.build("audit-promfile")
        let directory = m.t.path("textfile")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent("certstore.prom")
        try Data("stale\n".utf8).write(to: out)
        #expect(chmod(out.path, 0o600) == 0)

        let result = try certstore(expecting: 2, ["audit", "--format", "prometheus", "--output", out.path] + m.args, umask000: true)
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(octal(fileMode(out)) == "0644")
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.contains("certstore_audit_status{host=\"\(Self.hostName)\",location=\"LocalMachine\"} 2\n"), "\(text)")
        #expect(!text.contains("stale"))
        #expect(text.hasSuffix("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["certstore.prom"], "no temporary file left behind")
        if Self.prometheusClientAvailable {
            #expect(try Self.parsePrometheus(text, in: m.t).contains { $0.name == "certstore_connector_usable" })
        }
    }
}
