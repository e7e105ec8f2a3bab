/// Quoting for the commands certstore suggests (fix lines of `audit`, `diagnose`, `check`, hints): pasted into a
/// POSIX shell, every argument stays one word and nothing in it is expanded or run.
public enum ShellQuote {
    /// `text` as one POSIX shell word: unchanged when it holds only characters no shell treats specially,
    /// else in single quotes (a single quote inside becomes `'\''`).
    public static func quote(_ text: String) -> String {
        if !text.isEmpty && text.unicodeScalars.allSatisfy({ safe.contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A command line from its words, each quoted.
    public static func command(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }

    private static let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./-_".unicodeScalars)
}
