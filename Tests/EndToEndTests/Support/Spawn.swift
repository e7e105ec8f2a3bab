import Foundation
import Testing

/// Starts programs with `posix_spawn` instead of `Foundation.Process`.
///
/// Swift 6.3.1's swift-corelibs-foundation `Process.run()` copies a fixed 256 bytes of every `/proc/self/fd`
/// dirent (`findMaximumOpenFromProcSelfFD`), reading past glibc's readdir buffer; when that buffer ends at an
/// unmapped page the whole test process dies with SIGSEGV ("Bad pointer dereference", fixed upstream in
/// swiftlang/swift-corelibs-foundation#5472, in no 6.3.x release). The reliability tests start hundreds of
/// processes (a long kill loop crashed that way), so they use this instead. Same results as `RunningProcess`:
/// a `CommandResult`, output drained on dedicated threads, a hung child killed after a timeout.
final class SpawnedProcess: @unchecked Sendable {
    private static let spawnLock = NSLock()
    let processIdentifier: pid_t
    private let display: [String]
    private let exited = DispatchSemaphore(value: 0)
    private let readersDone = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var status: Int32 = 0
    private var output = Data(), errors = Data()
    private var result: CommandResult?

    init(executable: String, arguments: [String], display: [String]? = nil, environment: [String: String]) throws {
        self.display = display ?? [executable] + arguments
        // Pipes are made close-on-exec and the child started under one lock, so no other child started here
        // inherits a write end (its reader would wait for that child's exit). Foundation.Process children close
        // every inherited descriptor themselves.
        Self.spawnLock.lock()
        var locked = true
        defer { if locked { Self.spawnLock.unlock() } }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw RunnerError("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw RunnerError("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)  // dup2 clears O_CLOEXEC on 1 and 2
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)  // the test process ignores SIGPIPE; children get the default back
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var spawned: pid_t = 0
        let code = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        Self.spawnLock.unlock()
        locked = false
        let pid = spawned
        guard code == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw RunnerError("posix_spawn \(executable): \(String(cString: strerror(code)))")
        }
        processIdentifier = pid

        for (fd, isError) in [(outPipe[0], false), (errPipe[0], true)] {
            Thread { [self] in
                var collected = Data()
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 { collected.append(contentsOf: buffer[0..<n]); continue }
                    if n < 0 && errno == EINTR { continue }
                    break
                }
                close(fd)
                lock.withLock { if isError { errors = collected } else { output = collected } }
                readersDone.signal()
            }.start()
        }
        Thread { [self] in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            // Exit status, or 128 + N for death by signal N (as RunningProcess reports it).
            let signal = raw & 0x7F
            lock.withLock { status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal }
            exited.signal()
        }.start()
    }

    /// Waits for the exit (killing the process after `timeout` seconds) and for its output.
    func wait(timeout: Double = 60) -> CommandResult {
        if let done = lock.withLock({ result }) { return done }
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(processIdentifier, SIGKILL)
            exited.wait()
        }
        _ = readersDone.wait(timeout: .now() + 10)
        _ = readersDone.wait(timeout: .now() + 10)
        return lock.withLock {
            let done = CommandResult(arguments: display, status: status, stdoutData: output, stderrData: errors, timedOut: timedOut)
            result = done
            return done
        }
    }
}

enum Spawn {
    /// `certstore ARGS` with the environment `CertStoreCLI` gives every child (no colour, no inherited root).
    static func certstore(_ arguments: [String]) throws -> SpawnedProcess {
        try SpawnedProcess(executable: try CertStoreCLI.requireBinary().path, arguments: arguments,
                           display: ["certstore"] + arguments, environment: CertStoreCLI.environment())
    }

    static func program(_ path: String, _ arguments: [String]) throws -> SpawnedProcess {
        try SpawnedProcess(executable: path, arguments: arguments, environment: ProcessInfo.processInfo.environment)
    }
}

/// `certstore ARGS` to completion through `posix_spawn`; a hang is recorded as an issue, never a stuck suite.
@discardableResult
func spawnCertstore(_ arguments: [String], timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    let result = try Spawn.certstore(arguments).wait(timeout: timeout)
    if result.timedOut {
        Issue.record("certstore did not finish within \(timeout) s:\n\(result)", sourceLocation: sourceLocation)
    }
    return result
}

/// Like `spawnCertstore`, and records an issue unless it exits with `status`.
@discardableResult
func spawnCertstore(expecting status: Int32, _ arguments: [String], timeout: Double = 60,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    let result = try spawnCertstore(arguments, timeout: timeout, sourceLocation: sourceLocation)
    #expect(result.status == status, "expected exit \(status):\n\(result)", sourceLocation: sourceLocation)
    return result
}

/// `openssl ARGS` (absolute paths only: there is no working directory to rely on); throws unless it succeeds.
@discardableResult
func spawnOpenSSL(_ arguments: [String]) throws -> String {
    let result = try Spawn.program(opensslBinary.path, arguments).wait(timeout: 120)
    guard result.status == 0, !result.timedOut else { throw RunnerError("openssl failed:\n\(result)") }
    return result.stdout
}
