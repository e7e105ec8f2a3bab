import Foundation
import Testing
@testable import CertStore

@Suite("Enrollment: requests made in the store")
struct EnrollmentUnitTests {
    @Test("a request goes to REQUEST with its key (0600): one entry with HasPrivateKey; nothing in My")
    func requestLandsInREQUEST() throws {
        let test = try TestStore()
        var subject = Enrollment.Subject(subject: "CN=mail.contoso.com, O=Contoso, C=US", dnsNames: ["mail.contoso.com", "MAIL.contoso.com", "autodiscover.contoso.com"])
        subject.friendlyName = "Mail"
        subject.exportable = true
        let outcome = try Enrollment(store: test.store).request(subject)
        let result = outcome.value
        #expect(result.dnsNames == ["mail.contoso.com", "autodiscover.contoso.com"])   // case-insensitive duplicates dropped
        let requests = StorePath.personal.sibling(.request)
        let entry = try #require(try test.store.entry(result.thumbprint, in: requests))
        #expect(entry.hasPrivateKey)
        #expect(entry.storeProperties.friendlyName == "Mail")
        #expect(entry.storeProperties.exportable)
        #expect(entry.properties.publicKeyIdentifier == result.publicKeyIdentifier)
        var info = stat()
        #expect(stat(test.store.keysDirectory.appendingPathComponent("\(result.publicKeyIdentifier).key").path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try test.store.entries(in: .personal).entries.isEmpty)
    }

    @Test("Exchange's defaults without a subject or DNS names: CN=<host name>, DNS names host name and FQDN")
    func hostDefaults() throws {
        var subject = Enrollment.Subject()
        subject.hostNames = Enrollment.HostNames(hostName: "ex01", fqdn: "ex01.contoso.local")
        let (name, dnsNames) = try subject.resolved()
        #expect(name.windowsString == "CN=ex01")
        #expect(dnsNames == ["ex01", "ex01.contoso.local"])
        subject.hostNames = Enrollment.HostNames(hostName: "ex01", fqdn: nil)
        #expect(try subject.resolved().dnsNames == ["ex01"])
    }

    @Test("DNS names are checked", arguments: ["", "a b", "-a.example", "a-.example", "a..example", "zürich.example", "a.*.example",
                                               String(repeating: "a", count: 64) + ".example"])
    func badDNSNames(name: String) {
        #expect(throws: CertStoreError.self) { try Enrollment.Subject.checkDNSName(name) }
    }

    @Test("DNS names that are fine", arguments: ["mail.contoso.com", "*.contoso.com", "xn--zrich-kva.example", "ex01"])
    func goodDNSNames(name: String) throws {
        #expect(try Enrollment.Subject.checkDNSName(name) == name)
    }
}
