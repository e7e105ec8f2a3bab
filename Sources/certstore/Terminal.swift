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

    /// Human-readable output: control characters from names, file names, error texts are escaped here, on the
    /// way out, whatever the caller built (`escapeControls`).
    static func out(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((escapeControls(text, keepingColor: stdoutIsTerminal && colorAllowed) + terminator).utf8))
    }

    /// Machine-readable output written as it is: JSON (which escapes C0 itself and keeps other characters exact).
    static func outRaw(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((text + terminator).utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((escapeControls(text, keepingColor: stderrIsTerminal && colorAllowed) + "\n").utf8))
    }

    /// `sanitize` for whole messages: line breaks stay (they are layout), and when colour is on, the colour
    /// sequences `paint` writes stay too (only those: nothing that moves the cursor, clears, or sets a title).
    /// Every other control character (ESC, BEL, CR, C1, …) is written as `\xNN`.
    static func escapeControls(_ text: String, keepingColor: Bool) -> String {
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A }) { return text }
        var out = ""
        var scalars = Substring(text).unicodeScalars[...]
        while let scalar = scalars.first {
            if scalar == "\u{1B}", keepingColor, let sequence = colorSequences.first(where: { scalars.starts(with: $0.unicodeScalars) }) {
                out += sequence
                scalars = scalars.dropFirst(sequence.unicodeScalars.count)
                continue
            }
            scalars = scalars.dropFirst()
            if scalar == "\n" || scalar.properties.generalCategory != .control {
                out.unicodeScalars.append(scalar)
            } else {
                out += scalar.value < 0x100 ? String(format: "\\x%02X", scalar.value) : String(format: "\\u%04X", scalar.value)
            }
        }
        return out
    }

    private static let colorSequences = ["\u{1B}[0m"] + [Color.red, .yellow, .green, .bold, .dim].map { "\u{1B}[\($0.rawValue)m" }

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
