import ArgumentParser
import CertStore

struct ConnectorRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a send connector.")

    @Argument(help: ArgumentHelp("The connector's name.", valueName: "name"))
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run {
            let removed = try ConnectorManager(store: try global.openStore()).remove(name)
            Terminal.out("Removed send connector \"\(removed.name)\".")
        }
    }
}
