import Foundation

/// Whether a live service presents the certificate a renewal handed over to: the probe settings (`probe --save`,
/// `audit --probe`) are probed for the services that moved, after the deploy hooks ran.
public struct RenewalVerification: Sendable {
    /// The address probed (`smtp://127.0.0.1:25`).
    public let target: String
    public let service: ExchangeService
    /// The renewal's new certificate.
    public let expected: Thumbprint
    /// What the service presented at the last attempt (nil: the probe failed).
    public let presented: Thumbprint?
    public let verified: Bool
    /// The probe's failure, when it failed.
    public let detail: String?
}

extension ACMEManager {
    /// Probes the saved endpoints of every service a renewal handed over, until each presents the new certificate or
    /// `attempts` probes `interval` seconds apart have shown otherwise (a reload takes a moment). Run it after the
    /// outcomes' deploy hooks ran. Nothing to verify (no saved endpoint for the services) gives no entry.
    public func verify(_ report: RenewalReport, attempts: Int = 10, interval: TimeInterval = 0.5) throws -> [RenewalVerification] {
        let targets = try store.probeEndpoints().targets()
        var verifications: [RenewalVerification] = []
        var prober = Prober(store: store)
        prober.timeout = 5
        for renewal in report.renewals where renewal.status == .renewed && renewal.order?.handover?.handedOver == true {
            guard let expected = renewal.renewedBy else { continue }
            for target in targets where renewal.boundServices.contains(target.service) {
                var presented: Thumbprint? = nil
                var detail: String? = nil
                for attempt in 0..<max(attempts, 1) {
                    if attempt > 0 { usleep(useconds_t(interval * 1_000_000)) }
                    do {
                        presented = try prober.probe(target).leaf.thumbprint
                        detail = nil
                    } catch let error as CertStoreError {
                        presented = nil
                        detail = error.message
                    }
                    if presented == expected { break }
                }
                verifications.append(RenewalVerification(target: target.description, service: target.service, expected: expected,
                                                         presented: presented, verified: presented == expected, detail: detail))
            }
        }
        return verifications
    }
}
