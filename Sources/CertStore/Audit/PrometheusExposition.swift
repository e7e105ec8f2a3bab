import Foundation

/// The audit as Prometheus text exposition format (version 0.0.4), for node_exporter's textfile collector.
public enum PrometheusExposition {
    public static func render(_ report: AuditReport) -> String {
        var out = ""
        let location = label("location", report.location)
        func family(_ name: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for sample in samples { out += "\(name){\(sample.labels)} \(sample.value)\n" }
        }
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
            "\(location),\(label("store", c.store)),\(label("thumbprint", c.thumbprint)),\(label("subject", c.subject))"
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
                   ("\(location),\(label("connector", c.name)),\(label("status", c.status.rawValue)),\(label("thumbprint", c.thumbprint ?? ""))", c.usable ? "1" : "0")
               })
        family("certstore_connector_keyless_twin", "1 when a keyless certificate shares issuer and subject with the connector's choice.",
               report.connectors.map { ("\(location),\(label("connector", $0.name))", $0.keylessTwin ? "1" : "0") })
        return out
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
