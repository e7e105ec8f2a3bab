import ArgumentParser
import CertStore
import Foundation

struct TrashEmptyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "empty", abstract: "Delete trash entries for good.",
        discussion: """
            An entry made by `remove --delete-key` whose key is nowhere else holds the last copy of that private \
            key: it is kept (and named) unless --including-keys says deleting the key is meant.
            """)

    @Option(help: ArgumentHelp("Only entries removed more than this many days ago.", valueName: "days"))
    var olderThan: Int?

    @Flag(help: "Every entry.")
    var all = false

    @Flag(help: "Also delete entries that hold the last copy of a private key (made by remove --delete-key).")
    var includingKeys = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (olderThan != nil) != all else { throw ValidationError("say which entries: --older-than DAYS or --all") }
        if let olderThan, olderThan < 0 { throw ValidationError("--older-than takes 0 or more days") }
    }

    func run() throws {
        try Failure.run(global) {
            let store = try global.openStore()
            let outcome = try Trash(store: store).empty(olderThanDays: all ? nil : olderThan, includingKeys: includingKeys)
            let deleted = outcome.value.deleted, kept = outcome.value.keptForKeys
            defer { Consequences.report(outcome, store: store) }
            if global.format == .json {
                Terminal.outRaw(JSONText.render(["deleted": deleted.map { ["id": $0.id, "thumbprint": $0.thumbprint.value] },
                                                 "keptForKeys": kept.map { ["id": $0.id, "thumbprint": $0.thumbprint.value] }] as [String: Any]))
                return
            }
            Terminal.out("Deleted \(deleted.count) trash entr\(deleted.count == 1 ? "y" : "ies") for good.")
            if !kept.isEmpty {
                Terminal.out("Kept \(kept.count) that hold\(kept.count == 1 ? "s" : "") the last copy of a private key: \(kept.map(\.id).joined(separator: ", "))")
                Terminal.out("  restore to get the key back (certstore restore ID), or delete them too with --including-keys")
            }
        }
    }
}
