import ArgumentParser
import CertStore
import Foundation

struct ACMERenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew every ACME-managed certificate that is due (for a timer: certstore-acme-renew.timer).",
        discussion: """
            A certificate is due once a third of its lifetime is left (certbot 4's rule), inside the CA's \
            renewal window when its directory offers ACME Renewal Information (RFC 9773), or --days before it \
            expires. Each due certificate is ordered again with the names, key type, challenge settings and \
            account it was ordered with, soonest expiry first; a failing order leaves the certificate, its \
            bindings and its service files untouched and does not stop the others. The new certificate takes \
            over from the old one as `certstore handover` does (bindings, default SMTP role, dependencies, \
            connectors; the old one archived), under the lock that completes it; a handover that would break \
            something is not forced, and the certificate is reported "awaiting-handover" with the reason and \
            the command. When probe endpoints are saved (`certstore probe --save`), each service that moved is \
            probed after the deploy hooks ran, and a renewal counts only once the live service presents the new \
            certificate. Exit status: 0 when everything due was renewed \
            or nothing was due (--format json says which: "renewed" or "nothing-due"), 3 when a renewal failed, \
            awaits its handover or was not verified on the live service ("partial" or "failed"), 75 when the \
            store was busy.
            """)

    @Option(help: ArgumentHelp("Renew what expires within this many days, whatever its lifetime or the CA's window.", valueName: "n"))
    var days: Int?

    @Flag(help: "Say what is due and why; order nothing.")
    var dryRun = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("acme renew")
            let store = try global.openStore()
            let report = try ACMEManager(store: store).renew(days: days, dryRun: dryRun)
            for renewal in report.renewals {
                guard let order = renewal.order else { continue }
                Consequences.report(order.request, store: store)
                Consequences.report(order.completion, store: store)
            }
            // The hooks have run (Consequences.report): now the live services must present the new certificates.
            let verifications = try ACMEManager(store: store).verify(report)
            let unverified = verifications.filter { !$0.verified }
            let result = unverified.isEmpty ? report.result : "partial"
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "result": result, "dryRun": report.dryRun,
                    "certificates": report.renewals.map(Self.json),
                    "verifications": verifications.map { v -> [String: Any] in
                        ["target": v.target, "service": v.service.rawValue, "expected": v.expected.value,
                         "presented": v.presented.map { $0.value as Any } ?? NSNull(), "verified": v.verified,
                         "error": v.detail.map { $0 as Any } ?? NSNull()]
                    },
                ]))
            } else {
                if report.renewals.isEmpty { Terminal.out("No ACME-managed certificate to renew.") }
                for renewal in report.renewals {
                    let names = renewal.certificate.dnsNames.joined(separator: ", ")
                    let line: String
                    switch renewal.status {
                    case .notDue: line = "not due: \(renewal.certificate.thumbprint) (\(names)): \(renewal.schedule?.explanation ?? "")"
                    case .due: line = "due: \(renewal.certificate.thumbprint) (\(names)): \(renewal.schedule?.explanation ?? "")"
                    case .renewed:
                        let moved = renewal.order?.handover?.handedOver == true ? ", handed over" : ""
                        line = "renewed: \(renewal.certificate.thumbprint) → \(renewal.renewedBy?.value ?? "?") (\(names))\(moved)"
                    case .awaitingHandover:
                        let why = renewal.order?.handover?.steps.joined(separator: "; ") ?? ""
                        let commands = renewal.order?.handover?.commands.joined(separator: "; ") ?? ""
                        line = "renewed: \(renewal.certificate.thumbprint) → \(renewal.renewedBy?.value ?? "?") (\(names)), NOT handed over: "
                            + "\(renewal.boundServices.map(\.rawValue).joined(separator: ", ")) still present the old certificate (\(why))"
                            + (commands.isEmpty ? "" : "; run: \(commands)")
                    case .failed: line = "FAILED: \(renewal.certificate.thumbprint) (\(names)): \(renewal.error?.message ?? "")"
                    }
                    Terminal.out(line)
                }
                for v in verifications {
                    Terminal.out(v.verified ? "verified: \(v.target) presents \(v.expected)"
                                            : "NOT verified: \(v.target) presents \(v.presented?.value ?? "nothing (\(v.detail ?? "probe failed"))"), not \(v.expected): reload the service (a hook in Hooks/)")
                }
            }
            switch result {
            case "partial", "failed":
                let busy = report.renewals.contains { $0.error?.kind == .busy }
                throw ExitCode(busy ? 75 : 3)
            default:
                break
            }
        }
    }

    static func json(_ renewal: ACMEManager.Renewal) -> [String: Any] {
        [
            "thumbprint": renewal.certificate.thumbprint.value, "dnsNames": renewal.certificate.dnsNames,
            "status": renewal.status.rawValue,
            "notAfter": renewal.notAfter.map { $0.formatted(.iso8601) as Any } ?? NSNull(),
            "dueFrom": renewal.schedule.map { $0.dueFrom.formatted(.iso8601) as Any } ?? NSNull(),
            "reason": renewal.schedule.map { $0.explanation as Any } ?? NSNull(),
            "renewedBy": renewal.renewedBy.map { $0.value as Any } ?? NSNull(),
            "servicesAwaitingHandover": renewal.status == .awaitingHandover ? renewal.boundServices.map(\.rawValue) : [],
            "handedOver": renewal.order?.handover?.handedOver ?? false,
            "handoverSteps": renewal.order?.handover?.steps ?? [],
            "error": renewal.error.map { $0.message as Any } ?? NSNull(),
        ]
    }
}
