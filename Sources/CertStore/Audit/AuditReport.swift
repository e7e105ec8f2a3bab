import Foundation

/// The result of `audit`: every finding, the overall status, and per-object facts for metrics.
public struct AuditReport: Sendable {
    public struct CertificateFact: Sendable {
        public let store: StorePath
        public let thumbprint: Thumbprint
        public let subject: String
        public let notAfter: Date?
        public let hasPrivateKey: Bool
        public let services: [String]
        public let isDefaultSmtpCertificate: Bool
    }

    public struct ConnectorFact: Sendable {
        public let name: String
        public let status: CertificateSelection.Status
        public let thumbprint: Thumbprint?
        /// Outbound TLS works with what the connector presents (its verdict is `Works`).
        public let usable: Bool
        public let keylessTwin: Bool
        /// The connector's verdict, the same `connector resolve` gives.
        public var outcome: ConnectorVerdict.Outcome = .works
    }

    public let location: String
    public let checkedAt: Date
    public var findings: [Finding]
    public var certificates: [CertificateFact]
    public var connectors: [ConnectorFact]

    /// The worst severity found (OK when there is nothing to report).
    public var status: Severity { findings.map(\.severity).max() ?? .ok }

    public func count(_ severity: Severity) -> Int { findings.filter { $0.severity == severity }.count }

    /// Every fix command, in order of severity, without repeats: the remediation plan.
    public var remediationPlan: [String] {
        var seen = Set<String>()
        var plan: [String] = []
        for finding in findings.sorted(by: { $0.severity > $1.severity }) where finding.severity != .ok {
            for command in finding.fix where seen.insert(command).inserted { plan.append(command) }
        }
        return plan
    }
}
