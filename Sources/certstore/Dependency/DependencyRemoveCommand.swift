import ArgumentParser
import CertStore
import Foundation

struct DependencyRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Forget an application's dependencies (only the one on THUMBPRINT when given).")

    @Argument(help: ArgumentHelp("The application.", valueName: "application"))
    var application: String

    @Argument(help: ArgumentHelp("Only its dependency on this certificate.", valueName: "thumbprint"), completion: Completions.thumbprints)
    var thumbprint: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try DependencyManager(store: store).remove(
                application: application, thumbprint: try thumbprint.map(Thumbprint.init(parsing:)))
            let removed = outcome.value
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["removed": removed.map { ["application": $0.application, "thumbprint": $0.thumbprint?.value ?? NSNull(),
                                                                         "tlsCertificateName": $0.tlsCertificateName ?? NSNull()] as [String: Any] }]))
                return
            }
            Terminal.out("Removed \(removed.count) dependency record(s) of \"\(application)\".")
        }
    }
}
