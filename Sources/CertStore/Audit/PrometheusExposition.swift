import Foundation

/// The audit as Prometheus text exposition format (version 0.0.4), for node_exporter's textfile collector.
///
/// The metric names and label names are an interface (alert rules in dist/prometheus/ and users' dashboards
/// depend on them; the man page lists them and a test pins them). Every sample of a family carries the same
/// label names (node_exporter refuses a family whose samples differ), empty when they do not apply.
public enum PrometheusExposition {
    public static func render(_ report: AuditReport, host: String = localHostName) -> String {
        var out = ""
        let location = "\(label("host", host)),\(label("location", report.location))"
        func family(_ name: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for sample in samples { out += "\(name){\(sample.labels)} \(sample.value)\n" }
        }
        family("certstore_audit_up", "1 when the audit ran; 0 when it could not (see certstore_audit_error).", [(location, "1")])
        family("certstore_audit_status", "Overall audit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
               [(location, String(report.status.rawValue))])
        family("certstore_audit_timestamp_seconds", "When the audit ran, as a Unix timestamp.",
               [(location, number(report.checkedAt.timeIntervalSince1970))])
        family("certstore_findings", "Findings of the last audit by severity.",
               Severity.allCases.map { ("\(location),\(label("severity", $0.name.lowercased()))", String(report.count($0))) })
        family("certstore_findings_by_check", "Findings of the last audit by check and severity.",
               Dictionary(grouping: report.findings.filter { $0.severity != .ok }, by: { "\($0.check)|\($0.severity.name.lowercased())" })
                   .sorted { $0.key < $1.key }
                   .map { key, findings in
                       let parts = key.split(separator: "|").map(String.init)
                       return ("\(location),\(label("check", parts[0])),\(label("severity", parts[1]))", String(findings.count))
                   })
        func certificateLabels(_ c: AuditReport.CertificateFact) -> String {
            "\(location),\(label("store", c.store.description)),\(label("thumbprint", c.thumbprint.value)),\(label("subject", c.subject))"
        }
        family("certstore_certificate_not_after_seconds", "Certificate expiry (NotAfter) as a Unix timestamp.",
               report.certificates.compactMap { c in c.notAfter.map { (certificateLabels(c), number($0.timeIntervalSince1970)) } })
        family("certstore_certificate_has_private_key", "1 when the store holds a usable private key for the certificate.",
               report.certificates.map { (certificateLabels($0), $0.hasPrivateKey ? "1" : "0") })
        family("certstore_certificate_bound", "1 for each service the certificate is bound to.",
               report.certificates.flatMap { c in c.services.map { ("\(certificateLabels(c)),\(label("service", $0))", "1") } })
        family("certstore_default_smtp_certificate", "1 for the default SMTP (internal transport) certificate.",
               report.certificates.filter(\.isDefaultSmtpCertificate).map { (certificateLabels($0), "1") })
        family("certstore_connector_usable", "1 when the send connector resolves to a certificate with a usable private key.",
               report.connectors.map { c in
                   ("\(location),\(label("connector", c.name)),\(label("status", c.status.rawValue)),\(label("thumbprint", c.thumbprint?.value ?? ""))", c.usable ? "1" : "0")
               })
        family("certstore_connector_keyless_twin", "1 when a keyless certificate shares issuer and subject with the connector's choice.",
               report.connectors.map { ("\(location),\(label("connector", $0.name))", $0.keylessTwin ? "1" : "0") })
        family("certstore_finding", "Each problem the last audit found (value: how many findings share these labels, normally 1); fix holds the commands audit prints, joined by \"; \".",
               findingSamples(report, location: location))
        return out
    }

    /// The exposition of an audit that could not run (its error instead of findings): UNKNOWN, so an alert can
    /// tell it from an audit that stopped running (whose timestamp goes stale).
    public static func renderFailure(location: String, error: String, at date: Date = Date(), host: String = localHostName) -> String {
        let labels = "\(label("host", host)),\(label("location", location))"
        var out = ""
        func family(_ name: String, _ help: String, _ labels: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name){\(labels)} \(value)\n"
        }
        family("certstore_audit_up", "1 when the audit ran; 0 when it could not (see certstore_audit_error).", labels, "0")
        family("certstore_audit_status", "Overall audit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", labels, String(Severity.unknown.rawValue))
        family("certstore_audit_timestamp_seconds", "When the audit ran, as a Unix timestamp.", labels, number(date.timeIntervalSince1970))
        family("certstore_audit_error", "1 with the reason the audit could not run.", "\(labels),\(label("error", error))", "1")
        return out
    }

    /// One sample per distinct finding (OK checks excluded), labelled with what an alert needs to say.
    static func findingSamples(_ report: AuditReport, location: String) -> [(labels: String, value: String)] {
        let facts = Dictionary(report.certificates.map { ($0.thumbprint, $0) }, uniquingKeysWith: { a, b in a.store.name == .my ? a : b })
        let connectors = Dictionary(report.connectors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var counts: [String: Int] = [:]
        var order: [String] = []
        for finding in report.findings where finding.severity != .ok {
            var thumbprint: Thumbprint?, connector = "", service = ""
            if finding.object.hasPrefix("connector:") {
                connector = String(finding.object.dropFirst("connector:".count))
                thumbprint = connectors[connector]?.thumbprint
            } else if finding.object.hasPrefix("service:") {
                service = String(finding.object.dropFirst("service:".count))
            } else {
                thumbprint = Thumbprint(canonical: finding.object)
            }
            let fact = thumbprint.flatMap { facts[$0] }
            if service.isEmpty, connector.isEmpty, let fact { service = fact.services.joined(separator: ",") }
            let labels = [
                location, label("severity", finding.severity.name.lowercased()), label("check", finding.check),
                label("object", finding.object), label("store", fact?.store.description ?? ""), label("thumbprint", thumbprint?.value ?? ""),
                label("subject", fact?.subject ?? ""), label("service", service), label("connector", connector),
                label("title", finding.title), label("fix", finding.fix.joined(separator: "; ")),
            ].joined(separator: ",")
            if counts[labels] == nil { order.append(labels) }
            counts[labels, default: 0] += 1
        }
        return order.map { ($0, String(counts[$0]!)) }
    }

    /// This machine's name (gethostname), the `host` label.
    public static var localHostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// `name="value"` with the format's escapes (backslash, double quote, newline).
    static func label(_ name: String, _ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return "\(name)=\"\(escaped)\""
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
