import ArgumentParser
import CertStore

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Bring the services' files in line with the bindings now, and run the deploy hooks for what changed.",
        discussion: """
            Binding commands do this by themselves; run it after changing a store by hand, after setting up \
            hooks, or when `audit` says a service's files are stale. It changes nothing when all is in line.
            """)

    @Option(help: ArgumentHelp("Seconds each hook may run before it is stopped.", valueName: "seconds"))
    var hookTimeout: Double = 60

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Failure.run(global) {
            Deployment.synchronize(try global.openStore(), hookTimeout: hookTimeout)
            Terminal.out("Service files are in line with the bindings.")
        }
    }
}
