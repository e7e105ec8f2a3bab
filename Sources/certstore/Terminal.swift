import CertStore
import Foundation

/// Writing to stdout/stderr, colour only on a terminal and never with NO_COLOR set.
enum Terminal {
    static let stderrIsTerminal = isatty(STDERR_FILENO) == 1
    static let stdoutIsTerminal = isatty(STDOUT_FILENO) == 1
    static let stdinIsTerminal = isatty(STDIN_FILENO) == 1
    static let colorAllowed: Bool = {
        let env = ProcessInfo.processInfo.environment
        return env["NO_COLOR"].map(\.isEmpty) ?? true && env["TERM"] != "dumb"
    }()

    enum Color: String {
        case red = "31", yellow = "33", green = "32", bold = "1", dim = "2"
    }

    static func paint(_ text: String, _ color: Color, forStderr: Bool = false) -> String {
        let tty = forStderr ? stderrIsTerminal : stdoutIsTerminal
        guard tty && colorAllowed else { return text }
        return "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m"
    }

    static func out(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((text + terminator).utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func warn(_ text: String) {
        err(paint("warning:", .yellow, forStderr: true) + " " + text)
    }

    /// A one-line progress bar on stderr, drawn only on a terminal (silent when piped or redirected).
    final class Progress: @unchecked Sendable {
        private let label: String
        private var lastPercent = -1
        private let lock = NSLock()

        init(_ label: String) { self.label = label }

        func update(_ done: Int, _ total: Int) {
            guard Terminal.stderrIsTerminal, total >= 20 else { return }
            let percent = total == 0 ? 100 : done * 100 / total
            lock.lock()
            defer { lock.unlock() }
            guard percent != lastPercent else { return }
            lastPercent = percent
            let width = 30
            let filled = width * percent / 100
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let line = done >= total ? "\r\u{1B}[K" : "\r\(label) [\(bar)] \(done)/\(total)"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Replaces control characters so a hostile certificate name cannot drive the terminal.
    static func sanitize(_ text: String) -> String {
        // Fast path: printable ASCII needs no look at Unicode properties.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                out += scalar.value < 0x100 ? String(format: "\\x%02X", scalar.value) : String(format: "\\u%04X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
