import CertStore
import Foundation

/// What a finished child process did.
struct CommandResult: Sendable, CustomStringConvertible {
    let arguments: [String]
    /// The exit status; 128 + N when the process died of signal N.
    let status: Int32
    let stdoutData: Data
    let stderrData: Data
    /// The process did not finish in time and was killed.
    let timedOut: Bool

    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var stderr: String { String(decoding: stderrData, as: UTF8.self) }

    var description: String {
        "$ \(arguments.map(Self.quote).joined(separator: " "))\nexit \(status)\(timedOut ? " (TIMED OUT, killed)" : "")"
            + "\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)\n------"
    }

    private static func quote(_ word: String) -> String {
        word.isEmpty || word.contains(where: { " \"'\\$`".contains($0) }) ? "'\(word.replacingOccurrences(of: "'", with: "'\\''"))'" : word
    }
}

/// What a child process reads on standard input.
enum StandardInput: Sendable {
    /// `/dev/null`: not a terminal, immediately at end of file.
    case null
    case data(Data)

    static func text(_ string: String) -> StandardInput { .data(Data(string.utf8)) }
}

/// A started child process; `wait` collects its exit status and output.
///
/// Started by the library's `ChildProcess` (posix_spawn), never `Foundation.Process`, whose `run()` crashes
/// the whole test process now and then in Swift 6.3.1 (see ChildProcess.swift). Output is drained on
/// dedicated threads, so a chatty child cannot block on a full pipe, and a hanging child is killed after a
/// timeout instead of hanging the suite.
final class RunningProcess: @unchecked Sendable {
    private let child: ChildProcess
    private let displayArguments: [String]

    init(executable: URL, arguments: [String], displayArguments: [String]? = nil, stdin: StandardInput = .null,
         environment: [String: String]? = nil, currentDirectory: URL? = nil) throws {
        self.displayArguments = displayArguments ?? [executable.path] + arguments
        let input: ChildProcess.Input
        switch stdin {
        case .null: input = .null
        case .data(let bytes): input = .data(bytes)
        }
        child = try ChildProcess(executable: executable.path, arguments: arguments, environment: environment,
                                 currentDirectory: currentDirectory?.path, input: input)
    }

    var processIdentifier: Int32 { child.processIdentifier }

    func wait(timeout: Double = 60) -> CommandResult {
        let result = child.wait(timeout: timeout)
        return CommandResult(arguments: displayArguments, status: result.termination.shellStatus ?? -1,
                             stdoutData: result.standardOutput, stderrData: result.standardError,
                             timedOut: result.timedOut)
    }
}

struct RunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a program to completion.
func runProgram(_ executable: URL, _ arguments: [String], stdin: StandardInput = .null,
                environment: [String: String]? = nil, currentDirectory: URL? = nil, timeout: Double = 60) throws -> CommandResult {
    try RunningProcess(executable: executable, arguments: arguments, stdin: stdin, environment: environment,
                       currentDirectory: currentDirectory).wait(timeout: timeout)
}
