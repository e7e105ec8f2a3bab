import ArgumentParser

struct TrashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trash",
        abstract: "What remove and prune took away: list it, or empty it.",
        subcommands: [TrashListCommand.self, TrashEmptyCommand.self])
}
