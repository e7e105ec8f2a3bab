/// Words of suggested commands, quoted for POSIX shells: a suggestion pasted into a terminal runs exactly
/// the command it shows, whatever a connector or application name holds (`$(…)`, backquotes, quotes).
public enum ShellWord {
    /// `word` as is when it holds only characters no shell treats specially, else in single quotes (a
    /// single quote inside becomes `'\''`).
    public static func quote(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || "@%+=:,./_-".unicodeScalars.contains($0)
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
