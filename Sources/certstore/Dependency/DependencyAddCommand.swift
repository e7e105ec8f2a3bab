import ArgumentParser
import CertStore
import Foundation

struct DependencyAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register an application's use of a certificate (by thumbprint or by TLSCertificateName).")

    @Argument(help: ArgumentHelp("The application, e.g. \"Postfix relay\".", valueName: "application"))
    var application: String

    @Argument(help: ArgumentHelp("The certificate's thumbprint.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String?

    @Option(name: .customLong("tls-certificate-name"),
            help: ArgumentHelp("Name the certificate as <I>issuer<S>subject instead (it then follows renewals).", valueName: "name"))
    var tlsCertificateName: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try DependencyManager(store: store).add(
                application: application, thumbprint: try thumbprint.map(Thumbprint.init(parsing:)), tlsCertificateName: tlsCertificateName)
            let dependency = outcome.value
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["application": dependency.application, "thumbprint": dependency.thumbprint?.value ?? NSNull(),
                                              "tlsCertificateName": dependency.tlsCertificateName ?? NSNull()] as [String: Any]))
                return
            }
            Terminal.out("\"\(dependency.application)\" depends on \(dependency.thumbprint?.value ?? dependency.tlsCertificateName ?? "?").")
        }
    }
}
