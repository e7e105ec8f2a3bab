import ArgumentParser
import CertStore

struct DependencyRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Forget an application's dependencies (only the one on THUMBPRINT when given).")

    @Argument(help: ArgumentHelp("The application.", valueName: "application"))
    var application: String

    @Argument(help: ArgumentHelp("Only its dependency on this certificate.", valueName: "thumbprint"))
    var thumbprint: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run {
            let removed = try DependencyManager(store: try global.openStore()).remove(
                application: application, thumbprint: try thumbprint.map(Thumbprint.init(parsing:)))
            Terminal.out("Removed \(removed.count) dependency record(s) of \"\(application)\".")
        }
    }
}
