import CertStore
import Foundation
import Testing

/// man/certstore.1 against the built binary's --help: every subcommand (recursively) has a heading or a bold
/// mention, every long option of every subcommand is documented, and groff renders the page without a warning.
///
/// Self-contained on purpose (its own binary lookup and process runner), so it does not depend on the
/// helpers in Support/.
@Suite("man page")
struct ManPageTests {
    @Test("man/certstore.1 documents every subcommand and every long option that --help lists")
    func manPageMatchesHelp() throws {
        let binary = try ManPage.requireBinary()
        let page = try ManPage.page()

        // Walk the command tree from the top-level SUBCOMMANDS section down through the groups.
        var commands: [(path: [String], help: String)] = []
        var queue: [[String]] = try ManPage.subcommands(of: [], binary: binary).map { [$0] }
        try #require(!queue.isEmpty, "`certstore --help` lists no SUBCOMMANDS; the help format changed?")
        while !queue.isEmpty {
            let path = queue.removeFirst()
            let help = try ManPage.help(path, binary: binary)
            commands.append((path, help))
            queue += ManPage.section("SUBCOMMANDS", of: help).flatMap(ManPage.subcommandNames).map { path + [$0] }
        }
        // Sanity: the groups were walked, not just the top level.
        #expect(commands.contains { $0.path.count == 2 }, "no nested subcommand was found under connector, dependency or trash")

        let globalSection = page.section(titled: "GLOBAL OPTIONS") ?? ""
        var missingCommands: [String] = []
        var missingOptions: [String] = []
        for (path, help) in commands {
            let name = path.joined(separator: " ")
            let options = ManPage.longOptions(in: help)
            let heading = page.commandSection(name)
            // A group (connector, dependency, trash) is documented by the headings of its subcommands.
            let groupHeading = page.commandHeadings.contains { $0.hasPrefix(name + " ") }
            if heading == nil && !groupHeading && !page.mentionsInBold(name) {
                missingCommands.append("certstore \(name)")
            }
            // An option is documented in the command's own section, or once for all under GLOBAL OPTIONS.
            let ownText = heading ?? page.text
            for option in options where !ManPage.mentions(ownText, option) && !ManPage.mentions(globalSection, option) {
                missingOptions.append("certstore \(name) \(option)")
            }
        }
        #expect(missingCommands.isEmpty, "man/certstore.1 has no heading or .B for: \(missingCommands.joined(separator: ", "))")
        #expect(missingOptions.isEmpty, "man/certstore.1 does not document: \(missingOptions.joined(separator: ", "))")

        // The other way round: every command heading in COMMANDS names a command that exists.
        let known = Set(commands.map { $0.path.joined(separator: " ") } + ["help"])
        let stale = page.commandHeadings.filter { !known.contains($0) }
        #expect(stale.isEmpty, "man/certstore.1 documents commands --help does not know: \(stale.joined(separator: ", "))")
    }

    @Test("groff renders man/certstore.1 without a warning",
          .enabled(if: ManPage.tool("groff") != nil, "groff is not installed (apt-get install groff-base): the man page was not rendered"))
    func groffRendersWithoutWarnings() throws {
        let groff = try #require(ManPage.tool("groff"))
        let result = try ManPage.run(groff, ["-man", "-ww", "-z", ManPage.pageURL.path])
        #expect(result.stderr.isEmpty, "groff -man -ww -z man/certstore.1 warned:\n\(result.stderr)")
        #expect(result.status == 0, "groff exited with \(result.status)")
    }

    @Test("mandoc -Tlint finds no warning in man/certstore.1",
          .enabled(if: ManPage.tool("mandoc") != nil, "mandoc is not installed (apt-get install mandoc): lint skipped"))
    func mandocLintIsClean() throws {
        let mandoc = try #require(ManPage.tool("mandoc"))
        // -W warning: report warnings and worse, not style notes.
        let result = try ManPage.run(mandoc, ["-Tlint", "-W", "warning", ManPage.pageURL.path])
        let report = (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(report.isEmpty, "mandoc -Tlint -W warning man/certstore.1 reported:\n\(report)")
        #expect(result.status == 0, "mandoc exited with \(result.status)")
    }
}

/// The page, the binary, and the parsing of argument-parser help text.
private enum ManPage {
    /// The package root: this file is <root>/Tests/EndToEndTests/ManPageTests.swift.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let pageURL = packageRoot.appendingPathComponent("man/certstore.1")

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    // MARK: the page

    struct Page {
        let lines: [String]
        /// Normalised text of the whole page.
        var text: String { lines.map(ManPage.plain).joined(separator: "\n") }

        /// The text under `.SH title` up to the next `.SH`.
        func section(titled title: String) -> String? {
            guard let start = lines.firstIndex(where: { isHeading($0, "SH") && headingText($0) == title }) else { return nil }
            let end = lines[(start + 1)...].firstIndex { isHeading($0, "SH") } ?? lines.endIndex
            return lines[(start + 1)..<end].map(ManPage.plain).joined(separator: "\n")
        }

        /// The `.SS` headings under `.SH COMMANDS`.
        var commandHeadings: [String] {
            guard let start = lines.firstIndex(where: { isHeading($0, "SH") && headingText($0) == "COMMANDS" }) else { return [] }
            let end = lines[(start + 1)...].firstIndex { isHeading($0, "SH") } ?? lines.endIndex
            return lines[start..<end].filter { isHeading($0, "SS") }.map(headingText)
        }

        /// The text of the `.SS name` section (up to the next `.SS` or `.SH`), or nil when there is none.
        func commandSection(_ name: String) -> String? {
            guard let start = lines.firstIndex(where: { isHeading($0, "SS") && headingText($0) == name }) else { return nil }
            let end = lines[(start + 1)...].firstIndex { isHeading($0, "SS") || isHeading($0, "SH") } ?? lines.endIndex
            return lines[(start + 1)..<end].map(ManPage.plain).joined(separator: "\n")
        }

        /// `.B certstore NAME`, `.B NAME` (or .BR/.BI), or `\fBcertstore NAME\fR` in running text.
        func mentionsInBold(_ name: String) -> Bool {
            let wanted = [name, "certstore \(name)"]
            for line in lines {
                if [".B ", ".BR ", ".BI "].contains(where: line.hasPrefix) {
                    let argument = ManPage.plain(String(line.drop { $0 != " " }.dropFirst()))
                    if wanted.contains(argument.trimmingCharacters(in: .whitespaces)) { return true }
                }
                if wanted.contains(where: { line.contains("\\fB\($0)\\f") }) { return true }
            }
            return false
        }

        private func isHeading(_ line: String, _ macro: String) -> Bool {
            line == ".\(macro)" || line.hasPrefix(".\(macro) ")
        }

        private func headingText(_ line: String) -> String {
            ManPage.plain(String(line.dropFirst(3))).replacingOccurrences(of: "\"", with: "")
                .trimmingCharacters(in: .whitespaces)
        }
    }

    static func page() throws -> Page {
        guard let data = FileManager.default.contents(atPath: pageURL.path) else {
            throw Failure(description: "cannot read \(pageURL.path)")
        }
        return Page(lines: String(decoding: data, as: UTF8.self).components(separatedBy: "\n"))
    }

    /// Roff source as a reader sees it: `\-` → `-`, `\e` → `\`, font and zero-width escapes dropped.
    static func plain(_ roff: String) -> String {
        var text = roff
        for font in ["\\fB", "\\fI", "\\fR", "\\fP", "\\f(CW", "\\fC"] { text = text.replacingOccurrences(of: font, with: "") }
        return text.replacingOccurrences(of: "\\-", with: "-")
            .replacingOccurrences(of: "\\&", with: "")
            .replacingOccurrences(of: "\\|", with: "")
            .replacingOccurrences(of: "\\e", with: "\\")
    }

    /// Whether `text` holds `option` as a whole word (`--password` is not found in `--password-file`).
    static func mentions(_ text: String, _ option: String) -> Bool {
        var searchStart = text.startIndex
        while let range = text.range(of: option, range: searchStart..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            let isNameCharacter: (Character?) -> Bool = { $0.map { $0.isLetter || $0.isNumber || $0 == "-" } ?? false }
            if !isNameCharacter(before) && !isNameCharacter(after) { return true }
            searchStart = range.upperBound
        }
        return false
    }

    // MARK: help text (swift-argument-parser layout)

    /// The lines of `TITLE:` up to the next all-capitals section title.
    static func section(_ title: String, of help: String) -> [String] {
        let lines = help.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("\(title):") }) else { return [] }
        var result: [String] = []
        for line in lines[(start + 1)...] {
            if let first = line.first, !first.isWhitespace, line.hasSuffix(":") || line.contains(": ") { break }
            result.append(line)
        }
        return result
    }

    /// `  name   Abstract…` lines of a SUBCOMMANDS section (indented by two, lower-case name); wrapped abstract
    /// lines are indented further, and the "See 'certstore help …'" line starts with a capital.
    static func subcommandNames(_ line: String) -> [String] {
        guard line.hasPrefix("  "), let first = line.dropFirst(2).first, first.isLowercase else { return [] }
        let name = line.dropFirst(2).prefix { !$0.isWhitespace }
        guard name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else { return [] }
        return [String(name)]
    }

    /// Every `--long` option defined in the OPTIONS section: the option column of lines indented by two
    /// (`  --overwrite-default, --force   Answer Yes…` gives both names, never options named in descriptions).
    static func longOptions(in help: String) -> [String] {
        var options: [String] = []
        for line in section("OPTIONS", of: help) where line.hasPrefix("  -") {
            let column = line.dropFirst(2).components(separatedBy: "  ").first ?? ""
            for token in column.split(whereSeparator: { $0 == " " || $0 == "," }) where token.hasPrefix("--") {
                let name = String(token.prefix { $0.isLetter || $0.isNumber || $0 == "-" })
                if name.count > 2 && !options.contains(name) { options.append(name) }
            }
        }
        return options
    }

    static func subcommands(of path: [String], binary: URL) throws -> [String] {
        section("SUBCOMMANDS", of: try help(path, binary: binary)).flatMap(subcommandNames)
    }

    static func help(_ path: [String], binary: URL) throws -> String {
        let result = try run(binary, path + ["--help"])
        guard result.status == 0, !result.stdout.isEmpty else {
            throw Failure(description: "certstore \((path + ["--help"]).joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    // MARK: processes

    /// `$CERTSTORE_BIN`, else the `certstore` executable next to this test bundle (walking up from it).
    static func requireBinary() throws -> URL {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["CERTSTORE_BIN"], !explicit.isEmpty {
            guard fm.isExecutableFile(atPath: explicit) else { throw Failure(description: "CERTSTORE_BIN=\(explicit) is not executable") }
            return URL(fileURLWithPath: explicit)
        }
        var starts: [URL] = []
        if let url = Bundle.main.executableURL { starts.append(url) }
        if let first = CommandLine.arguments.first, !first.isEmpty {
            starts.append(URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath)))
        }
        starts.append(Bundle.main.bundleURL)
        for start in starts {
            var directory = start.standardizedFileURL.deletingLastPathComponent()
            while directory.path != "/" && !directory.path.isEmpty {
                let candidate = directory.appendingPathComponent("certstore")
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   fm.isExecutableFile(atPath: candidate.path) {
                    return candidate
                }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw Failure(description: """
            the certstore binary was not found next to the test bundle; build it first \
            (swift build --build-tests) or set CERTSTORE_BIN to its path
            """)
    }

    /// An executable named `name` on $PATH (or in /usr/bin), or nil.
    static func tool(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a program in a scratch directory, no colour, no store root (the library's ChildProcess, not
    /// Foundation.Process: see ChildProcess.swift).
    static func run(_ executable: URL, _ arguments: [String]) throws -> Result {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("certstore-manpage-\(UUID().uuidString)")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "CERTSTORE_ROOT")
        environment["NO_COLOR"] = "1"
        environment["LC_ALL"] = "C.UTF-8"
        let result = try ChildProcess(executable: executable.path, arguments: arguments, environment: environment,
                                      currentDirectory: scratch.path).wait(timeout: 120)
        return Result(status: result.termination.shellStatus ?? -1,
                      stdout: String(decoding: result.standardOutput, as: UTF8.self),
                      stderr: String(decoding: result.standardError, as: UTF8.self))
    }
}
