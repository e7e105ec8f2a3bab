import ArgumentParser
import CertStore

/// Turns library errors into "error: …" + "hint: …" on stderr and a documented exit code.
enum Failure {
    static func exitCode(for kind: CertStoreError.Kind) -> Int32 {
        switch kind {
        case .notFound: return 1
        case .refused: return 2
        case .usage: return 64
        case .badData: return 65
        case .inputUnreadable: return 66
        case .internalError: return 70
        case .writeFailed: return 73
        case .busy: return 75
        case .permission: return 77
        case .interrupted: return 130
        }
    }

    static func report(_ error: CertStoreError, prefix: String? = nil) {
        // Line breaks in a message are layout; anything else that could drive a terminal is escaped.
        let message = error.message.split(separator: "\n", omittingEmptySubsequences: false).map { Terminal.sanitize(String($0)) }.joined(separator: "\n")
        Terminal.err(Terminal.paint("error:", .red, forStderr: true) + " " + (prefix.map { "\($0): " } ?? "") + message)
        if let hint = error.hint { Terminal.err("hint: " + hint) }  // escaped by Terminal.err, like everything on stderr
    }

    /// Runs a command body; a `CertStoreError` is reported and becomes its exit code. Checked first, before
    /// anything can change: the output format is one this command has (prometheus is audit's alone).
    static func run(_ global: GlobalOptions, _ body: () throws -> Void) throws {
        do {
            if global.format == .prometheus {
                throw CertStoreError(.usage, "--format prometheus is only for `certstore audit`", hint: "use table, list, csv or json")
            }
            try body()
        } catch let error as CertStoreError {
            report(error)
            throw ExitCode(exitCode(for: error.kind))
        }
    }
}
