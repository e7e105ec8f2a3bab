import ArgumentParser
import CertStore
import Foundation

struct ACMEAccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Show the location's ACME account and the certificates it manages.",
        discussion: "Exit status 1 when the location has no account.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let manager = ACMEManager(store: store)
            guard let account = try manager.account() else {
                throw CertStoreError(.notFound, "this location has no ACME account", hint: "certstore acme register --server URL --agree-tos")
            }
            let thumbprint = try manager.accountKeyThumbprint()
            let managed = try manager.managedCertificates()
            let keyFile = store.directory.appendingPathComponent("ACME/account.key").path
            if global.format == .json {
                var object = Self.json(account, keyFile: keyFile, keyThumbprint: thumbprint)
                object["certificates"] = managed.map(Self.json)
                Terminal.outRaw(JSONText.render(object))
                return
            }
            Terminal.out("Account: \(account.url)")
            Terminal.out("Server: \(account.server)")
            Terminal.out("Contact: \(account.contact.isEmpty ? "none" : account.contact.joined(separator: ", "))")
            if let bundle = account.caBundle { Terminal.out("CA bundle: \(bundle)") }
            Terminal.out("Key: \(keyFile) (ES256, thumbprint \(thumbprint))")
            Terminal.out("Registered: \(account.createdAt.formatted(.iso8601))")
            Terminal.out("Managed certificates: \(managed.isEmpty ? "none" : "")")
            for item in managed {
                Terminal.out("  \(item.thumbprint)  \(item.dnsNames.joined(separator: ", "))  \(item.challenge)"
                             + (item.services.isEmpty ? "" : "  services \(item.services.map(\.rawValue).joined(separator: ","))")
                             + (item.revokedAt.map { "  REVOKED \($0.formatted(.iso8601))" } ?? ""))
            }
        }
    }

    static func json(_ account: ACMEAccount, keyFile: String, keyThumbprint: String) -> [String: Any] {
        [
            "url": account.url, "server": account.server, "contact": account.contact,
            "caBundle": account.caBundle.map { $0 as Any } ?? NSNull(), "termsOfService": account.termsOfService.map { $0 as Any } ?? NSNull(),
            "keyFile": keyFile, "keyThumbprint": keyThumbprint, "createdAt": account.createdAt.formatted(.iso8601),
        ]
    }

    static func json(_ item: ACMEManagedCertificate) -> [String: Any] {
        [
            "thumbprint": item.thumbprint.value, "dnsNames": item.dnsNames, "keyType": item.keySpec.rawValue,
            "challenge": item.challenge.description, "services": item.services.map(\.rawValue),
            "issuedAt": item.issuedAt.formatted(.iso8601), "revokedAt": item.revokedAt.map { $0.formatted(.iso8601) as Any } ?? NSNull(),
        ]
    }
}
