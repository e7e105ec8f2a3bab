import ArgumentParser
import CertStore
import Foundation

struct DisableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Unbind services from a certificate.",
        discussion: """
            Without --services, every service bound to the certificate is unbound. The default SMTP certificate \
            is not unbound while other SMTP certificates exist unless --new-default names the one that takes over.
            """)

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String

    @Option(help: ArgumentHelp("Services to unbind, comma-separated (default: all).", valueName: "list"), completion: Completions.services)
    var services: String?

    @Option(help: ArgumentHelp("The SMTP certificate that becomes the default when this one was.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var newDefault: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            try global.requirePersonalStore("disable")
            let store = try global.openStore()
            let list = try services.map(ExchangeService.parseList)
            let outcome = try BindingManager(store: store).disable(try Thumbprint(parsing: thumbprint), services: list,
                                                                   newDefault: try newDefault.map(Thumbprint.init(parsing:)))
            let result = outcome.value
            defer { Consequences.report(outcome, store: store) }
            for warning in result.warnings { Terminal.warn(warning) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render([
                    "thumbprint": result.thumbprint.value, "servicesRemoved": result.unbound.map(\.rawValue),
                    "previousDefaultSmtpCertificate": result.previousDefault?.value ?? NSNull(),
                    "defaultSmtpCertificate": result.newDefault?.value ?? NSNull(), "warnings": result.warnings,
                ] as [String: Any]))
                return
            }
            Terminal.out("Disabled \(result.unbound.map(\.rawValue).joined(separator: ", ")) on \(result.thumbprint).")
            if result.previousDefault != result.newDefault {
                Terminal.out("Default SMTP certificate: \(result.newDefault?.value ?? "none") (was \(result.previousDefault?.value ?? "none"))")
            }
        }
    }
}
