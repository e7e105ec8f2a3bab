import ArgumentParser
import CertStore
import Foundation

struct TrashEmptyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "empty", abstract: "Delete trash entries for good.")

    @Option(help: ArgumentHelp("Only entries removed more than this many days ago.", valueName: "days"))
    var olderThan: Int?

    @Flag(help: "Every entry.")
    var all = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (olderThan != nil) != all else { throw ValidationError("say which entries: --older-than DAYS or --all") }
        if let olderThan, olderThan < 0 { throw ValidationError("--older-than takes 0 or more days") }
    }

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try Trash(store: store).empty(olderThanDays: all ? nil : olderThan)
            let deleted = outcome.value
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["deleted": deleted.map { ["id": $0.id, "thumbprint": $0.thumbprint] }] as [String: Any]))
                return
            }
            Terminal.out("Deleted \(deleted.count) trash entr\(deleted.count == 1 ? "y" : "ies") for good.")
        }
    }
}
