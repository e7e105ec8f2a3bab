import Foundation
import Testing

@Suite("command line")
struct CommandLineTests {
    @Test("global options may follow the subcommand's arguments")
    func optionsAfterArguments() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("order")
        try certstore(expecting: 0, ["import", f.modernPFX.path, "--root", t.rootPath, "--password-file", f.passwordFile.path])
        let shown = try certstore(expecting: 0, ["show", f.leaf.thumbprint, "--root", t.rootPath])
        #expect(parseListOutput(shown.stdout).first?["Thumbprint"] == f.leaf.thumbprint)
        let exported = try certstore(expecting: 0, ["export", f.leaf.thumbprint, "--out", "-", "--root", t.rootPath])
        #expect(exported.stdout.hasPrefix("-----BEGIN CERTIFICATE-----"))
    }

    @Test("--store accepts Cert:\\LocalMachine\\My and friends; an unknown store is exit 64")
    func storeSyntax() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("storesyntax")
        try seedModernPFX(into: t, f)
        for spelling in ["Cert:\\LocalMachine\\My", "cert:/localmachine/my", "LocalMachine\\My", "My"] {
            let result = try certstore(expecting: 0, ["list", "--store", spelling, "--format", "json"] + t.rootArgs)
            #expect(try jsonThumbprints(result.stdout) == [f.leaf.thumbprint], "\(spelling)")
        }
        let ca = try certstore(expecting: 0, ["list", "--store", "Cert:\\LocalMachine\\CA", "--format", "json"] + t.rootArgs)
        #expect(try jsonThumbprints(ca.stdout) == [f.ca.thumbprint])
        for bad in ["LocalMachine/Nope", "Nowhere/My", "LocalMachine/My/Extra"] {
            let result = try certstore(expecting: 64, ["list", "--store", bad] + t.rootArgs)
            #expect(result.stderr.contains("error:"), "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
        }
    }

    @Test("--version prints a version")
    func version() throws {
        let result = try certstore(expecting: 0, ["--version"])
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.range(of: #"[0-9]+\.[0-9]+\.[0-9]+"#, options: .regularExpression) != nil, "\(result)")
    }

    enum Subcommand: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case list, show, `import`, export
        var testDescription: String { rawValue }
    }

    @Test("--help works on every subcommand", arguments: Subcommand.allCases)
    func help(_ subcommand: Subcommand) throws {
        let result = try certstore(expecting: 0, [subcommand.rawValue, "--help"])
        #expect(result.stdout.contains("USAGE: certstore \(subcommand.rawValue)"), "\(result)")
        #expect(result.stdout.contains("--root"), "\(result)")
        let viaHelp = try certstore(expecting: 0, ["help", subcommand.rawValue])
        #expect(viaHelp.stdout.contains("USAGE: certstore \(subcommand.rawValue)"), "\(viaHelp)")
    }

    @Test("--help works on every subcommand the top-level help lists (including ones added later)")
    func helpOnEveryListedSubcommand() throws {
        let top = try certstore(expecting: 0, ["--help"])
        var names: [String] = []
        var inList = false
        for line in top.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("SUBCOMMANDS:") { inList = true; continue }
            guard inList else { continue }
            if line.contains("certstore help") { break }
            if let match = line.firstMatch(of: /^  ([a-z][a-z0-9-]*)(\s|$)/) { names.append(String(match.1)) }
        }
        #expect(Set(Subcommand.allCases.map(\.rawValue)).isSubset(of: names), "\(names)\n\(top)")
        for name in names {
            let result = try certstore(expecting: 0, [name, "--help"])
            #expect(result.stdout.contains("USAGE: certstore \(name)"), "\(result)")
        }
    }

    @Test("top-level --help lists the subcommands and the exit codes")
    func topLevelHelp() throws {
        let result = try certstore(expecting: 0, ["--help"])
        for word in ["list", "show", "import", "export", "64", "65", "75"] {
            #expect(result.stdout.contains(word), "\(word) missing:\n\(result)")
        }
    }

    @Test("argument validation errors are usage errors: exit 64")
    func validationErrors() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("usage")
        let cases: [[String]] = [
            ["list", "--has-private-key", "--no-private-key"],
            ["list", "--format", "xml"],
            ["list", "--no-such-option"],
            ["list", "--lock-timeout", "-1"],
            ["import", f.modernPFX.path, "--password-file", f.passwordFile.path, "--password-env", "X"],
            ["import"],
            ["show"],
            ["export", f.leaf.thumbprint],
            ["export", f.leaf.thumbprint, "--out", "-", "--type", "pfx"],
            ["export", f.leaf.thumbprint, "--out", "x.bin", "--type", "zip"],
            ["frobnicate"],
        ]
        for arguments in cases {
            let result = try certstore(expecting: 64, arguments + t.rootArgs, currentDirectory: t.url)
            #expect(!result.stderr.isEmpty, "\(result)")
        }
        #expect(!FileManager.default.fileExists(atPath: t.root.path), "a usage error touches no store")
    }
}

/// A misspelt subcommand gets a suggestion as a misspelt option does; bash completion completes file names
/// for `import`, the store's thumbprints and the service names.
@Suite("suggestions and completion")
struct SuggestionAndCompletionTests {
    @Test("a misspelt subcommand: exit 64 and the closest name", arguments: [
        (["lsit"], "Did you mean 'list'?"), (["imprt", "x.pfx"], "Did you mean 'import'?"),
        (["connector", "reslove", "Outbound"], "Did you mean 'resolve'?"), (["--root", "/nonexistent", "lst"], "Did you mean 'list'?"),
    ])
    func misspeltSubcommand(arguments: [String], suggestion: String) throws {
        let result = try certstore(expecting: 64, arguments)
        #expect(result.stderr.contains(suggestion), "\(result)")
    }

    @Test("bash completion: file names for import, the service names for --services, thumbprints from the store")
    func bashCompletion() throws {
        let script = try certstore(expecting: 0, ["--generate-completion-script", "bash"]).stdout
        func function(_ name: String) -> String {
            guard let start = script.range(of: "\n\(name)() {") else { return "" }
            let rest = script[start.upperBound...]
            return String(rest[..<(rest.range(of: "\n}\n")?.lowerBound ?? rest.endIndex)])
        }
        #expect(function("_certstore_import").contains("__certstore_add_completions -f"))
        #expect(function("_certstore_enable").contains("'SMTP'$'\\n''IIS'$'\\n''IMAP'$'\\n''POP'"))
        for command in ["show", "export", "enable", "disable", "remove"] {
            #expect(function("_certstore_\(command)").contains("---completion \(command) -- positional@0"), "\(command)")
        }
        // What the script runs for `certstore show 2<TAB> --root DIR`: the thumbprints of that store starting with 2.
        let f = try Fixtures.get()
        let t = try TestDirectory("completion")
        try seedModernPFX(into: t, f)
        let prefix = String(f.leaf.thumbprint.prefix(3)).lowercased()
        let completed = try certstore(expecting: 0, ["---completion", "show", "--", "positional@0", "2", "3", "certstore", "show", prefix, "--root", t.rootPath])
        #expect(completed.stdout.split(separator: "\n").map(String.init) == [f.leaf.thumbprint], "\(completed)")
    }
}
