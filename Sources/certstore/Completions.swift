import ArgumentParser
import CertStore
import Foundation

/// Shell completion for arguments whose values come from the store or a fixed list.
enum Completions {
    /// The service names `enable`/`disable --services` take.
    static let services = CompletionKind.list(["SMTP", "IIS", "IMAP", "POP"])

    /// The thumbprints of the store the command line names (`--root`, `--store`, as typed so far; else the
    /// defaults), read from the store folder's file names: no certificate is parsed, nothing is written.
    /// (swift-argument-parser 1.8 takes the `prefix` it passes from the last word of the line, not the word at
    /// `index`: the word at `index` is used.)
    static let thumbprints = CompletionKind.custom { words, index, prefix in
        thumbprints(words: words, prefix: words.indices.contains(index) ? words[index] : prefix)
    }

    static func thumbprints(words: [String], prefix: String) -> [String] {
        guard let path = try? StorePath(parsing: optionValue("--store", in: words) ?? "LocalMachine/My") else { return [] }
        let store = StoreLocation(root: StoreLocation.defaultRoot(explicit: optionValue("--root", in: words)), location: path.location)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: store.directory(of: path).path)) ?? []
        let upper = prefix.uppercased()
        var found: [String] = []
        for name in names where name.hasSuffix(".cer") {
            let thumbprint = String(name.dropLast(4))
            if thumbprint.count == 40, thumbprint.hasPrefix(upper) { found.append(thumbprint) }
        }
        return found.sorted()
    }

    /// The value of `--option VALUE` or `--option=VALUE`, the last one typed.
    static func optionValue(_ option: String, in words: [String]) -> String? {
        var value: String?
        var index = 0
        while index < words.count {
            if words[index] == option, index + 1 < words.count {
                value = words[index + 1]
                index += 1
            } else if words[index].hasPrefix(option + "=") {
                value = String(words[index].dropFirst(option.count + 1))
            }
            index += 1
        }
        return value
    }
}

extension CertStoreCommand {
    /// A misspelt subcommand (`certstore lsit`, `certstore connector reslove`): the closest subcommand names,
    /// as swift-argument-parser already does for options. Nil when the word is a subcommand, or nothing is close.
    static func subcommandSuggestion(_ arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = CertStoreCommand.self
        var path = ["certstore"]
        for word in arguments {
            let subcommands = command.configuration.subcommands
            guard !word.hasPrefix("-"), !subcommands.isEmpty else { return nil }
            let names = subcommands.map { $0._commandName } + (path.count == 1 ? ["help"] : [])
            if let next = subcommands.first(where: { $0._commandName == word }) {
                command = next
                path.append(word)
                continue
            }
            if names.contains(word) { return nil }
            let limit = max(1, min(2, word.count / 3))
            let distances = names.map { ($0, $0.hasPrefix(word) && word.count >= 2 ? 0 : editDistance($0, word)) }.filter { $0.1 <= limit }
            let best = distances.map(\.1).min()
            let close = distances.filter { $0.1 == best }.map(\.0)
            let list = close.isEmpty ? names.sorted().joined(separator: ", ") : close.map { "'\($0)'" }.joined(separator: " or ")
            return close.isEmpty
                ? "Unknown subcommand '\(word)' of '\(path.joined(separator: " "))'. Its subcommands: \(list)."
                : "Unknown subcommand '\(word)'. Did you mean \(list)?"
        }
        return nil
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
