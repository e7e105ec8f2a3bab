import Foundation

/// Reads a daemon's live configuration: the daemon's own tool where it has one (postconf, doveconf, exim), which
/// knows the syntax, the defaults and the included files better than any parser here; the one file the
/// administrator names for nginx, apache2 and haproxy. Tools run without a shell, with a clean environment and
/// a timeout; files are read as data (never a path or a command certstore acts on).
struct LiveConfigurationReader {
    typealias LiveSetting = ServiceConfig.LiveSetting
    let daemon: ServiceConfig.Daemon

    /// Where the daemons' tools are looked for besides `PATH` (root's tools live in sbin, often not in a user's PATH).
    static let systemDirectories = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin", "/usr/local/bin"]
    static let timeout = 30.0

    func read(config: String?) throws -> ServiceConfig.LiveState {
        switch daemon {
        case .postfix:
            // -x expands $name references, so a level written as `$other_parameter` is compared as postfix sees it.
            return try runTool(["postconf"], arguments: (config.map { ["-c", $0] } ?? []) + ["-n", "-x"], config: config) {
                Self.parseNameValue($0)
            }
        case .dovecot:
            // -P shows ssl_key's value (hidden otherwise); only a `<path` value is ever printed back.
            return try runTool(["doveconf"], arguments: (config.map { ["-c", $0] } ?? []) + ["-n", "-P"], config: config) {
                Self.parseDovecot($0)
            }
        case .exim4:
            return try readExim(config: config)
        case .nginx, .apache2, .haproxy:
            guard let config else {
                let example = ["nginx": "/etc/nginx/sites-available/default", "apache2": "/etc/apache2/sites-available/default-ssl.conf",
                               "haproxy": "/etc/haproxy/haproxy.cfg"][daemon.rawValue] ?? ""
                return .unavailable(tried: "no file", reason: "\(daemon.rawValue) holds a certificate per server block: name the file "
                                    + "that serves the bound one with --config (e.g. \(example))")
            }
            return .read(try readFile(config))
        }
    }

    // MARK: tools

    /// The first of `names` found in PATH or the system directories.
    static func locate(_ names: [String]) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") } + systemDirectories
        for name in names {
            for directory in directories {
                let candidate = directory + "/" + name
                var info = stat()
                if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                    return candidate
                }
            }
        }
        return nil
    }

    struct ToolOutput {
        let command: String
        let status: Int32?
        let output: String
        let errors: String
        var firstError: String {
            let lines = (errors + "\n" + output).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            return lines.first { !$0.isEmpty && !$0.hasPrefix("#") } ?? "exit status \(status.map(String.init) ?? "unknown")"
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> ToolOutput {
        let environment = ["PATH": (["/usr/sbin", "/usr/bin", "/sbin", "/bin"]).joined(separator: ":"), "LC_ALL": "C"]
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, outputLimit: 8 << 20)
        let result = child.wait(timeout: timeout)
        let command = ShellQuote.command([(executable as NSString).lastPathComponent] + arguments)
        return ToolOutput(command: command, status: result.timedOut ? nil : result.termination.shellStatus,
                          output: String(decoding: result.standardOutput, as: UTF8.self),
                          errors: result.timedOut ? "timed out after \(Int(timeout)) s" : String(decoding: result.standardError, as: UTF8.self))
    }

    /// Runs the daemon's tool and parses what it prints. Without `config` a missing tool or a failure is an
    /// unavailable live configuration (the full lines are printed); with `config` a failure is an error.
    private func runTool(_ names: [String], arguments: [String], config: String?,
                         parse: (String) -> [LiveSetting]) throws -> ServiceConfig.LiveState {
        let tried = ShellQuote.command([names[0]] + arguments)
        guard let tool = Self.locate(names) else {
            let reason = "\(names.joined(separator: " or ")) is not installed (looked in PATH and \(Self.systemDirectories.joined(separator: ":")))"
            if config != nil {
                throw CertStoreError(.inputUnreadable, "cannot read \(daemon.rawValue)'s configuration: \(reason)",
                                     hint: "install \(daemon.rawValue), or run without --config for the recommended lines")
            }
            return .unavailable(tried: tried, reason: reason)
        }
        let run = try Self.run(tool, arguments)
        guard run.status == 0 else {
            if let config {
                throw CertStoreError(.inputUnreadable, "cannot read \(daemon.rawValue)'s configuration \(config): `\(run.command)` failed: \(run.firstError)",
                                     hint: "name the configuration \(daemon == .postfix ? "directory (the one holding main.cf)" : "file") with --config")
            }
            return .unavailable(tried: run.command, reason: run.firstError)
        }
        return .read(ServiceConfig.LiveConfiguration(daemon: daemon, source: run.command, settings: parse(run.output)))
    }

    /// exim: the three main options, and the macros (Debian's configuration sets the options through
    /// MAIN_TLS_* macros, and a macro defined twice is a configuration error unless redefined with `==`).
    private func readExim(config: String?) throws -> ServiceConfig.LiveState {
        let prefix = config.map { ["-C", $0] } ?? []
        let options = ["tls_certificate", "tls_privatekey", "tls_advertise_hosts"]
        let state = try runTool(["exim4", "exim"], arguments: prefix + ["-bP"] + options, config: config) { Self.parseNameValue($0) }
        guard case .read(let live) = state, let tool = Self.locate(["exim4", "exim"]) else { return state }
        // `-bP macros` is for root (and exim's admin group); without it the macros are unknown, said in the plan.
        let macros = try Self.run(tool, prefix + ["-bP", "macros"])
        let defined = macros.status == 0
            ? Dictionary(Self.parseNameValue(macros.output, separator: "=").map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            : nil
        return .read(ServiceConfig.LiveConfiguration(daemon: daemon, source: live.source, settings: live.settings, macros: defined))
    }

    // MARK: parsers

    /// `name = value` lines (postconf -n, exim -bP); anything else is skipped.
    static func parseNameValue(_ text: String, separator: String = " = ") -> [LiveSetting] {
        text.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: separator) ?? (line.hasSuffix(" =") ? line.range(of: " =", options: .backwards) : nil) else { return nil }
            let name = line[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.hasPrefix("#"), !name.contains(" ") else { return nil }
            return LiveSetting(name: name, value: line[range.upperBound...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// doveconf -n: `name = value` at the top level, sections `kind [name] {` … `}`; a setting inside a section
    /// carries the section (`protocol imap { }`).
    static func parseDovecot(_ text: String) -> [LiveSetting] {
        var sections: [String] = []
        var settings: [LiveSetting] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "}" {
                _ = sections.popLast()
            } else if line.hasSuffix("{"), !line.contains(" = ") {
                sections.append(line.dropLast().trimmingCharacters(in: .whitespaces))
            } else if let range = line.range(of: " = ") ?? (line.hasSuffix(" =") ? line.range(of: " =", options: .backwards) : nil) {
                var value = line[range.upperBound...].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                settings.append(LiveSetting(name: String(line[..<range.lowerBound]), value: value,
                                            location: sections.isEmpty ? nil : sections.map { "\($0) { }" }.joined(separator: " ")))
            }
        }
        return settings
    }

    /// nginx, apache2 and haproxy: the named file itself (an `include` is reported, not followed).
    private func readFile(_ path: String) throws -> ServiceConfig.LiveConfiguration {
        let url = URL(fileURLWithPath: path)
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(url, limit: 16 << 20, followLinks: true, input: true)
        } catch let error as CertStoreError {
            throw CertStoreError(.inputUnreadable, "cannot read \(daemon.rawValue)'s configuration: \(error.message)",
                                 hint: "name the file that holds the server block with --config")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let settings: [LiveSetting]
        switch daemon {
        case .nginx: settings = Self.parseNginx(text)
        case .apache2: settings = Self.parseApache(text)
        default: settings = Self.parseHAProxy(text)
        }
        return ServiceConfig.LiveConfiguration(daemon: daemon, source: path, settings: settings, file: path)
    }

    /// nginx: directives end at `;`, blocks open with `{`; `#` starts a comment outside quotes. Kept: every
    /// directive with its first line (`line N`) and its arguments joined by one space.
    static func parseNginx(_ text: String) -> [LiveSetting] {
        var settings: [LiveSetting] = []
        var words: [String] = [], word = "", quote: Character? = nil, comment = false, escaped = false
        var line = 1, startLine = 1
        func endWord() {
            if !word.isEmpty || quote != nil { if words.isEmpty { startLine = line }; words.append(word) }
            word = ""
        }
        for character in text {
            if character == "\n" { line += 1 }
            if comment { if character == "\n" { comment = false }; continue }
            if let open = quote {
                if escaped { word.append(character); escaped = false } else if character == "\\" { escaped = true }
                else if character == open { words.append(word); if words.count == 1 { startLine = line }; word = ""; quote = nil }
                else { word.append(character) }
                continue
            }
            switch character {
            case "#": endWord(); comment = true
            case "\"", "'": endWord(); quote = character
            case ";", "{", "}":
                endWord()
                if character != "}", let name = words.first {
                    settings.append(LiveSetting(name: name, value: words.dropFirst().joined(separator: " "), location: "line \(startLine)"))
                }
                words = []
            case _ where character.isWhitespace: endWord()
            default:
                if word.isEmpty && words.isEmpty { startLine = line }
                word.append(character)
            }
        }
        return settings
    }

    /// apache2: one directive a line (a trailing backslash continues it), `#` comments at the start of a line,
    /// names case-insensitive; `<VirtualHost …>` sections are kept as directives named `<VirtualHost`.
    static func parseApache(_ text: String) -> [LiveSetting] {
        var settings: [LiveSetting] = []
        var pending = "", startLine = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if pending.isEmpty { startLine = index + 1 }
            if line.hasSuffix("\\") { line.removeLast(); pending += line + " "; continue }
            line = (pending + line).trimmingCharacters(in: .whitespaces)
            pending = ""
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            var value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            settings.append(LiveSetting(name: String(parts[0]), value: value, location: "line \(startLine)"))
        }
        return settings
    }

    /// haproxy: one keyword a line with its arguments, `#` comments; section keywords (`global`, `frontend x`)
    /// are kept like any other line so that `crt-base` and `ssl-load-extra-files` of `global` are found.
    static func parseHAProxy(_ text: String) -> [LiveSetting] {
        var settings: [LiveSetting] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#"), !line[..<hash].contains("\"") { line = String(line[..<hash]) }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let name = words.first else { continue }
            settings.append(LiveSetting(name: name, value: words.dropFirst().joined(separator: " "), location: "line \(index + 1)"))
        }
        return settings
    }
}
