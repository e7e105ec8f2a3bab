import ArgumentParser
import CertStore
import Foundation

struct ACMERevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a certificate of LocalMachine/My at the account's ACME server (revokeCert).",
        discussion: "The store keeps the certificate (take it away with `certstore remove`); acme.json marks it revoked.")

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Option(help: ArgumentHelp("Revocation reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation.", valueName: "reason"))
    var reason: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("acme revoke")
            let parsedReason = try reason.map(ACMEManager.RevocationReason.init(parsing:))
            let store = try global.openStore()
            let outcome = try ACMEManager(store: store).revoke(try Thumbprint(parsing: thumbprint), reason: parsedReason)
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["thumbprint": outcome.value.thumbprint.value, "revoked": true,
                                                 "reason": parsedReason.map { "\($0)" as Any } ?? NSNull()]))
            } else {
                Terminal.out("Revoked \(outcome.value.thumbprint)" + (parsedReason.map { " (\($0))" } ?? "") + ".")
            }
            Consequences.report(outcome, store: store)
        }
    }
}
