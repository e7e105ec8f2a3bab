import ArgumentParser
import CertStore
import Foundation

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Bring the services' files in line with the bindings now, and run the deploy hooks for what changed.",
        discussion: """
            Binding commands do this by themselves; run it after changing a store by hand, or when `audit` says \
            a service's files are stale or unreadable by the service's account. It changes nothing, and runs \
            no hook, when all is in line.
            """)

    @Option(help: ArgumentHelp("Seconds each hook may run before it is stopped.", valueName: "seconds"))
    var hookTimeout: Double = 60

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try ServiceFiles(store: store).deploy()
            if let error = Consequences.report(outcome, store: store, hookTimeout: hookTimeout) {
                throw ExitCode(Failure.exitCode(for: error.kind))
            }
            Terminal.out("Service files are in line with the bindings.")
        }
    }
}
