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

/// Thread-safe holder for bytes read by a reader thread.
private final class ByteBox: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()
    var data: Data {
        get { lock.withLock { bytes } }
        set { lock.withLock { bytes = newValue } }
    }
}

/// A started child process; `wait` collects its exit status and output.
///
/// Output is drained on dedicated threads (never on the Swift concurrency pool), so a chatty child cannot
/// block on a full pipe, and a hanging child is killed after a timeout instead of hanging the suite.
final class RunningProcess: @unchecked Sendable {
    private let process: Process
    private let displayArguments: [String]
    private let exited = DispatchSemaphore(value: 0)
    private let readersDone = DispatchSemaphore(value: 0)
    private let out = ByteBox()
    private let err = ByteBox()

    private static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN); return () }()

    init(executable: URL, arguments: [String], displayArguments: [String]? = nil, stdin: StandardInput = .null,
         environment: [String: String]? = nil, currentDirectory: URL? = nil) throws {
        _ = Self.ignoreSIGPIPE
        process = Process()
        self.displayArguments = displayArguments ?? [executable.path] + arguments
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        var inPipe: Pipe?
        switch stdin {
        case .null:
            guard let devNull = FileHandle(forReadingAtPath: "/dev/null") else {
                throw RunnerError("cannot open /dev/null")
            }
            process.standardInput = devNull
        case .data:
            let pipe = Pipe()
            process.standardInput = pipe
            inPipe = pipe
        }
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        // Foundation closes the parent's copies of the child's pipe ends after launching it, so the readers
        // see end of file when the child (and anything it started) exits.
        for (pipe, box) in [(outPipe, out), (errPipe, err)] {
            let done = readersDone
            let handle = pipe.fileHandleForReading
            let thread = Thread {
                box.data = (try? handle.readToEnd()) ?? Data()
                try? handle.close()
                done.signal()
            }
            thread.start()
        }
        if let inPipe, case .data(let bytes) = stdin {
            let handle = inPipe.fileHandleForWriting
            let thread = Thread {
                try? handle.write(contentsOf: bytes)
                try? handle.close()
            }
            thread.start()
        }
    }

    var processIdentifier: Int32 { process.processIdentifier }

    func wait(timeout: Double = 60) -> CommandResult {
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        _ = readersDone.wait(timeout: .now() + 10)
        _ = readersDone.wait(timeout: .now() + 10)
        let status: Int32 = process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
        return CommandResult(arguments: displayArguments, status: status, stdoutData: out.data,
                             stderrData: err.data, timedOut: timedOut)
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
