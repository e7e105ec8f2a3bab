import ArgumentParser
import CertStore
import Foundation

struct ACMERegisterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register an ACME account (newAccount) with a new ES256 key kept in the location.")

    @Option(help: ArgumentHelp("The ACME server's directory URL (e.g. https://acme-v02.api.letsencrypt.org/directory).", valueName: "url"))
    var server: String

    @Option(help: ArgumentHelp("Contact address the CA may write to (expiry notices).", valueName: "address"))
    var email: String?

    @Flag(help: "Agree to the server's terms of service (required when it has them).")
    var agreeTos = false

    @Option(help: ArgumentHelp("PEM CA certificates that verify a private ACME server's TLS certificate (added to the system's).", valueName: "file"),
            completion: .file())
    var caBundle: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore(.creating)
            let outcome = try ACMEManager(store: store).register(server: server, email: email, agreeToTerms: agreeTos, caBundle: caBundle)
            let result = outcome.value
            if global.format == .json {
                Terminal.outRaw(JSONText.render(ACMEAccountCommand.json(result.account, keyFile: result.keyFile, keyThumbprint: result.keyThumbprint)))
            } else {
                Terminal.out("Registered ACME account \(result.account.url)")
                Terminal.out("Server: \(result.account.server)")
                Terminal.out("Key: \(result.keyFile) (ES256, thumbprint \(result.keyThumbprint))")
            }
            Consequences.report(outcome, store: store)
        }
    }
}
