import Foundation
import Testing
@testable import CertStore

/// The handover plan and its commit, on stores made by the library itself (self-signed certificates whose key
/// is made in the store): what moves, what is refused and why, the undo.
@Suite("Handover: the plan")
struct HandoverPlanTests {
    /// A self-signed certificate in `My` with its key, valid from `now`, bound to `services` (made the default).
    func certificate(_ store: StoreLocation, dnsNames: [String], services: [ExchangeService] = [], now: Date = Date()) throws -> Thumbprint {
        let subject = Enrollment.Subject(subject: "CN=mail.contoso.com, O=Contoso", dnsNames: dnsNames)
        return try Enrollment(store: store).selfSigned(subject, services: services, answer: .overwrite, now: now).value.thumbprint
    }

    @Test("the plan moves every service and the default SMTP role, and the dependencies by thumbprint; the dry run writes nothing; the commit archives OLD")
    func planAndCommit() throws {
        let test = try TestStore()
        let old = try certificate(test.store, dnsNames: ["mail.contoso.com"], services: [.smtp, .imap], now: Date().addingTimeInterval(-86_400))
        let new = try certificate(test.store, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"])
        _ = try DependencyManager(store: test.store).add(application: "ldap", thumbprint: old, tlsCertificateName: nil)
        let handover = Handover(store: test.store)
        let plan = try handover.plan(old: old, new: new)
        #expect(plan.services == [.smtp, .imap].sorted())
        #expect(plan.replacesDefaultSmtp)
        #expect(plan.dependencies == ["ldap"])
        #expect(plan.obstacles.isEmpty)
        #expect(!plan.isUndo && !plan.unarchivesNew)

        let bindingsBefore = try test.store.read(ServiceBindings.self)
        let dry = try handover.handover(old: old, new: new, options: Handover.Options(dryRun: true))
        #expect(dry.value.dryRun && dry.serviceChanges.isEmpty && dry.hooks.isEmpty)
        #expect(try test.store.read(ServiceBindings.self) == bindingsBefore)

        _ = try handover.handover(old: old, new: new)
        let bindings = try test.store.read(ServiceBindings.self)
        #expect(bindings.thumbprints(for: .smtp) == [new] && bindings.thumbprints(for: .imap) == [new])
        #expect(bindings.defaultSmtpCertificate == new)
        #expect(try DependencyManager(store: test.store).dependencies().map(\.thumbprint) == [new])
        let archived = try #require(try test.store.entry(old, in: .personal))
        #expect(archived.storeProperties.archived && archived.storeProperties.supersededBy == new)
        // Hidden from the Exchange view and from FQDN selection.
        #expect(try ExchangeCertificateView(store: test.store).certificates().map(\.thumbprint) == [new])
        #expect(try ConnectorResolver(store: test.store).resolve(fqdn: "mail.contoso.com").chosen?.thumbprint == new)

        // The undo: expiry and names are not obstacles, OLD comes back.
        let undo = try handover.plan(old: new, new: old)
        #expect(undo.isUndo && undo.unarchivesNew && undo.obstacles.isEmpty)
        _ = try handover.handover(old: new, new: old)
        #expect(try test.store.read(ServiceBindings.self).defaultSmtpCertificate == old)
        #expect(try test.store.entry(old, in: .personal)?.storeProperties.archived == false)
        #expect(try test.store.entry(new, in: .personal)?.storeProperties.archived == true)
    }

    @Test("obstacles: a missing DNS name, an earlier expiry; refused with nothing written unless forced")
    func obstacles() throws {
        let test = try TestStore()
        let old = try certificate(test.store, dnsNames: ["mail.contoso.com", "autodiscover.contoso.com"], services: [.iis])
        let narrow = try certificate(test.store, dnsNames: ["mail.contoso.com"])
        let earlier = try certificate(test.store, dnsNames: ["*.contoso.com"], now: Date().addingTimeInterval(-30 * 86_400))
        let handover = Handover(store: test.store)
        #expect(try handover.plan(old: old, new: narrow).obstacles == [.missingDNSNames(["autodiscover.contoso.com"])])
        let plan = try handover.plan(old: old, new: earlier)
        // The wildcard covers both names; the expiry is the obstacle.
        #expect(plan.obstacles.count == 1)
        if case .expiresEarlier = plan.obstacles.first {} else { Issue.record("expected expiresEarlier: \(plan.obstacles)") }
        let before = try test.store.read(ServiceBindings.self)
        #expect(throws: CertStoreError.self) { try handover.handover(old: old, new: narrow) }
        #expect(try test.store.read(ServiceBindings.self) == before)
        #expect(try test.store.entry(old, in: .personal)?.storeProperties.archived == false)
        let forced = try handover.handover(old: old, new: narrow, options: Handover.Options(force: true))
        #expect(forced.value.forced)
        #expect(try test.store.read(ServiceBindings.self).thumbprints(for: .iis) == [narrow])
        #expect(throws: CertStoreError.self) { try handover.plan(old: old, new: old) }
    }

    @Test("renew of a self-signed certificate keeps subject, names and key type, and hands over; the renewal expires no earlier")
    func renewSelfSigned() throws {
        let test = try TestStore()
        let old = try certificate(test.store, dnsNames: ["mail.contoso.com"], services: [.smtp])
        let result = try Renewal(store: test.store).renew(old).value
        let renewal = try #require(result.selfSigned)
        #expect(renewal.keySpec == .rsa2048 && renewal.dnsNames == ["mail.contoso.com"])
        #expect(renewal.subject == "CN=mail.contoso.com, O=Contoso")
        #expect(renewal.handover.services == [.smtp])
        #expect(try test.store.read(ServiceBindings.self).defaultSmtpCertificate == renewal.thumbprint)
        let oldEntry = try #require(try test.store.entry(old, in: .personal))
        #expect(oldEntry.storeProperties.archived)
        #expect((renewal.notAfter ?? .distantPast) >= (oldEntry.properties.notAfter ?? .distantFuture))
    }
}
