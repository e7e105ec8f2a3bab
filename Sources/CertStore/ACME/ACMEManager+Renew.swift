import Foundation

extension ACMEManager {
    /// One ACME-managed certificate as `acme renew` judged it, and what became of it.
    public struct Renewal: Sendable {
        public enum Status: String, Sendable {
            /// Not due yet.
            case notDue = "not-due"
            /// Due; `--dry-run` ordered nothing.
            case due
            /// Renewed and handed over: the old certificate's bindings, roles and connectors moved to the new one,
            /// the old one is archived.
            case renewed
            /// Renewed, but the handover was refused (it would break something, e.g. a name a role needs): the old
            /// certificate's services still present it; `order.handover` says why and gives the forcing command.
            case awaitingHandover = "awaiting-handover"
            /// The order failed: the old certificate, its bindings and its service files are untouched.
            case failed
        }

        public let certificate: ACMEManagedCertificate
        public let notAfter: Date?
        public let schedule: RenewalSchedule?
        public let status: Status
        /// The new certificate's thumbprint, when renewed.
        public let renewedBy: Thumbprint?
        /// The services still bound to the old certificate (awaiting handover).
        public let boundServices: [ExchangeService]
        public let error: CertStoreError?
        /// The order, when one was placed and succeeded.
        public let order: OrderResult?
    }

    /// What `renew` found and did, soonest-expiring first.
    public struct RenewalReport: Sendable {
        public let renewals: [Renewal]
        public let dryRun: Bool

        /// `renewed`, `nothing-due`, `due` (dry run), `partial` or `failed`.
        public var result: String {
            let statuses = renewals.map(\.status)
            if statuses.allSatisfy({ $0 == .notDue }) { return "nothing-due" }
            if dryRun { return "due" }
            if statuses.allSatisfy({ $0 == .notDue || $0 == .renewed }) { return "renewed" }
            if statuses.contains(.renewed) || statuses.contains(.awaitingHandover) { return "partial" }
            return "failed"
        }
    }

    /// Renews every ACME-managed certificate of `My` that is due and not revoked or already renewed: the same names,
    /// key type, challenge settings and account; soonest expiry first; one failing order does not stop the others
    /// (it leaves its certificate, bindings and service files untouched). `days` overrides when a certificate is
    /// due; the server's renewalInfo (RFC 9773) decides when it has one; else a third of the lifetime left.
    public func renew(days: Int? = nil, dryRun: Bool = false, now: Date = Date()) throws -> RenewalReport {
        if let days, days < 0 { throw CertStoreError.usage("--days must be 0 or more") }
        let registry = try store.read(ACMERegistry.self)
        guard registry.account != nil else {
            throw CertStoreError.notFound("this location has no ACME account", hint: "certstore acme register --server URL --agree-tos")
        }
        let my = store.path(of: .my)
        let bindings = try store.read(ServiceBindings.self)
        var candidates: [(ACMEManagedCertificate, Certificate)] = []
        for managed in registry.certificates where managed.revokedAt == nil && managed.renewedBy == nil {
            guard let entry = try store.entry(managed.thumbprint, in: my) else { continue }  // removed since
            candidates.append((managed, try entry.loadCertificate()))
        }
        candidates.sort { ($0.1.properties().notAfter ?? .distantFuture) < ($1.1.properties().notAfter ?? .distantFuture) }
        var session: (account: ACMEAccount, signer: JWSSigner, client: ACMEClient)? = nil
        var renewals: [Renewal] = []
        for (managed, certificate) in candidates {
            let properties = certificate.properties()
            let bound = bindings.services(of: managed.thumbprint).sorted()
            guard let notBefore = properties.notBefore, let notAfter = properties.notAfter else { continue }
            var window: (start: Date, end: Date)? = nil
            do {
                if days == nil {
                    if session == nil { session = try self.session() }
                    window = try renewalWindow(certificate, client: session!.client)
                }
            } catch let error as CertStoreError {
                renewals.append(Renewal(certificate: managed, notAfter: notAfter, schedule: nil, status: .failed, renewedBy: nil,
                                        boundServices: bound, error: error, order: nil))
                continue
            }
            let schedule = RenewalSchedule(notBefore: notBefore, notAfter: notAfter, now: now, days: days, window: window)
            guard schedule.due else {
                renewals.append(Renewal(certificate: managed, notAfter: notAfter, schedule: schedule, status: .notDue, renewedBy: nil,
                                        boundServices: bound, error: nil, order: nil))
                continue
            }
            if dryRun {
                renewals.append(Renewal(certificate: managed, notAfter: notAfter, schedule: schedule, status: .due, renewedBy: nil,
                                        boundServices: bound, error: nil, order: nil))
                continue
            }
            var request = OrderRequest(dnsNames: managed.dnsNames)
            request.keySpec = managed.keySpec
            request.challenge = managed.challenge
            request.services = []  // the services move by the handover, not by binding the new one beside the old
            request.renews = managed.thumbprint
            do {
                let order = try self.order(request, now: now)
                // Completing the request handed over from the old certificate (Handover, under the completion's lock).
                let handedOver = order.handover?.handedOver == true
                renewals.append(Renewal(certificate: managed, notAfter: notAfter, schedule: schedule,
                                        status: handedOver || bound.isEmpty ? .renewed : .awaitingHandover, renewedBy: order.thumbprint,
                                        boundServices: bound, error: nil, order: order))
            } catch let error as CertStoreError {
                renewals.append(Renewal(certificate: managed, notAfter: notAfter, schedule: schedule, status: .failed, renewedBy: nil,
                                        boundServices: bound, error: error, order: nil))
            }
        }
        return RenewalReport(renewals: renewals, dryRun: dryRun)
    }

    /// The server's suggested renewal window (RFC 9773 §4.2), or nil when the directory has no renewalInfo, the
    /// certificate has no Authority Key Identifier, or the server's answer is unusable (the lifetime rule applies).
    private func renewalWindow(_ certificate: Certificate, client: ACMEClient) throws -> (start: Date, end: Date)? {
        guard let base = try client.directory().renewalInfo, let aki = certificate.authorityKeyIdentifier else { return nil }
        let identifier = RenewalSchedule.certificateIdentifier(authorityKeyIdentifier: aki, serialNumber: certificate.serialNumberOctets)
        let response = try client.get(base.hasSuffix("/") ? base + identifier : base + "/" + identifier)
        guard response.status == 200 else { return nil }
        struct RenewalInfo: Decodable {
            struct Window: Decodable { let start: String; let end: String }
            let suggestedWindow: Window
        }
        guard let info = try? JSONDecoder().decode(RenewalInfo.self, from: response.body),
              let start = try? Date(info.suggestedWindow.start, strategy: .iso8601),
              let end = try? Date(info.suggestedWindow.end, strategy: .iso8601) else { return nil }
        return (start, end)
    }
}
