import ArgumentParser
import CertStore
import Foundation

struct ConnectorRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a send connector.")

    @Argument(help: ArgumentHelp("The connector's name.", valueName: "name"))
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try ConnectorManager(store: store).remove(name)
            let removed = outcome.value
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["removed": removed.name] as [String: Any]))
                return
            }
            Terminal.out("Removed send connector \"\(removed.name)\".")
        }
    }
}
