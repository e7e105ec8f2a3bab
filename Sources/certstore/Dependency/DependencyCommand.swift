import ArgumentParser

struct DependencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dependency",
        abstract: "Record other applications that use a certificate, so removal knows about them.",
        subcommands: [DependencyAddCommand.self, DependencyListCommand.self, DependencyRemoveCommand.self])
}
