import Foundation

/// The one verdict on a send connector: which certificate it presents and whether outbound TLS works with it.
///
/// `connector resolve`, `audit`, `remove`'s planning and every operation's report of what it changed for
/// connectors all read this, so they can never disagree about the same connector.
public struct ConnectorVerdict: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// The chosen certificate has a usable key and is enabled for SMTP.
        case works = "Works"
        /// The chosen certificate has no usable private key: "TLS negotiation failed with error NoCredentials" (KB 4495258).
        case noCredentials = "NoCredentials"
        /// The chosen certificate has a key but is not enabled for SMTP: UnknownCredentials (KB 4051498).
        case unknownCredentials = "UnknownCredentials"
        /// The configured TLSCertificateName matches no valid certificate.
        case notFound = "TlsCertificateNotFound"
        /// The TLSCertificateName cannot be parsed.
        case syntaxInvalid = "TlsCertificateNameSyntaxInvalid"
        /// No TLSCertificateName and no certificate qualifies for the FQDN: nothing is presented.
        case noCertificate = "NoCertificate"
    }

    public let connector: String
    public let status: CertificateSelection.Status
    /// The certificate the connector presents (nil when none).
    public let thumbprint: Thumbprint?
    public let outcome: Outcome
    /// A keyless twin shares the chosen certificate's issuer and subject: the choice hangs on store order.
    public let keylessTwin: Bool

    public init(connector: SendConnector, selection: CertificateSelection, bindings: ServiceBindings) {
        self.connector = connector.name
        status = selection.status
        thumbprint = selection.chosen?.thumbprint
        keylessTwin = selection.hasKeylessTwin
        switch selection.status {
        case .syntaxInvalid:
            outcome = .syntaxInvalid
        case .notFound where connector.tlsCertificateName != nil:
            outcome = .notFound
        default:
            if let chosen = selection.chosen {
                if !chosen.hasPrivateKey {
                    outcome = .noCredentials
                } else if !bindings.thumbprints(for: .smtp).contains(chosen.thumbprint) {
                    outcome = .unknownCredentials
                } else {
                    outcome = .works
                }
            } else {
                outcome = .noCertificate
            }
        }
    }

    /// CRITICAL when outbound TLS fails; WARNING when it works only by store order or presents nothing by
    /// design (no name, no certificate for the FQDN); OK otherwise.
    public var severity: Severity {
        switch outcome {
        case .noCredentials, .unknownCredentials, .notFound, .syntaxInvalid: .critical
        case .noCertificate: .warning
        case .works: keylessTwin ? .warning : .ok
        }
    }

    /// Whether outbound TLS can present this connector's certificate.
    public var works: Bool { outcome == .works }

    /// One line for people: what the connector gets.
    public var summary: String {
        switch outcome {
        case .works: "presents \(thumbprint?.value ?? "?")" + (keylessTwin ? " (a keyless twin shares its issuer and subject)" : "")
        case .noCredentials: "resolves to \(thumbprint?.value ?? "?"), which has no usable private key: outbound TLS fails with NoCredentials (KB 4495258)"
        case .unknownCredentials: "resolves to \(thumbprint?.value ?? "?"), which is not enabled for SMTP: outbound TLS fails with UnknownCredentials (KB 4051498)"
        case .notFound: "its TLSCertificateName matches no valid certificate (TlsCertificateNotFound)"
        case .syntaxInvalid: "its TLSCertificateName is invalid (TlsCertificateNameSyntaxInvalid)"
        case .noCertificate: "no certificate qualifies for its FQDN: it presents none"
        }
    }
}

/// What an operation changed for one send connector: the verdict before and after.
public struct ConnectorChange: Sendable, Equatable {
    public let connector: String
    /// nil when the connector did not exist before the operation.
    public let before: ConnectorVerdict?
    /// nil when the connector no longer exists.
    public let after: ConnectorVerdict?

    /// One line for people.
    public var summary: String {
        switch (before, after) {
        case (nil, let after?): return "send connector \"\(connector)\" \(after.summary)"
        case (_?, nil): return "send connector \"\(connector)\" was removed"
        case (let before?, let after?):
            if before.thumbprint != after.thumbprint || before.outcome != after.outcome {
                return "send connector \"\(connector)\" now \(after.summary) (was: \(before.summary))"
            }
            return "send connector \"\(connector)\" \(after.summary)"
        case (nil, nil): return "send connector \"\(connector)\""
        }
    }
}
