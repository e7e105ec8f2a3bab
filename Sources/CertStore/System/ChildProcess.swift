import CLinux
import Foundation

/// A program certstore starts (a deploy hook; in the tests, certstore itself and openssl), through `posix_spawn`.
///
/// Why not `Foundation.Process`: in Swift 6.3.1 its `run()` copies a fixed 256 bytes of every `/proc/self/fd`
/// directory entry (`findMaximumOpenFromProcSelfFD`), reading past glibc's readdir buffer, and when that buffer
/// ends at an unmapped page the caller dies with SIGSEGV — about one CI run in three here (fixed upstream in
/// swiftlang/swift-corelibs-foundation#5472, in no 6.3 release). It also changes the working directory of the
/// whole process while it starts a child in another directory. Why not swift-subprocess: its API is async only,
/// and certstore is a synchronous tool whose writers run hooks while they hold the store lock.
///
/// The child gets its own process group (a timeout stops everything it started), default signal handling,
/// an empty signal mask, and no descriptor of ours above standard error (the store lock stays ours). Output is
/// drained on dedicated threads, so a chatty child never blocks on a full pipe, and the child is reaped even
/// when nobody waits for it.
package final class ChildProcess: @unchecked Sendable {
    /// What the child reads on standard input.
    package enum Input: Sendable {
        /// `/dev/null`: not a terminal, immediately at end of file.
        case null
        /// These bytes, then end of file.
        case data(Data)
    }

    /// How the child ended.
    package enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// `waitpid` failed with this errno (ECHILD when SIGCHLD is ignored): how the child ended is unknown,
        /// and never taken for success.
        case unknown(Int32)

        /// The exit status, or 128 + N for death by signal N, as a shell reports it; nil when unknown.
        package var shellStatus: Int32? {
            switch self {
            case .exited(let status): return status
            case .signaled(let signal): return 128 + signal
            case .unknown: return nil
            }
        }
    }

    /// A finished child: how it ended and what it wrote.
    package struct Result: Sendable {
        package let termination: Termination
        /// Standard output (with standard error in it when the child was started with `mergeErrors`).
        package let standardOutput: Data
        package let standardError: Data
        /// The child outlived its timeout and was stopped.
        package let timedOut: Bool
        /// Output beyond `outputLimit` was read and dropped.
        package let truncated: Bool
    }

    package let processIdentifier: pid_t

    private let lock = NSLock()
    private let exitedSignal = DispatchSemaphore(value: 0)
    private let readersDone = DispatchSemaphore(value: 0)
    private let readerCount: Int
    private let outputLimit: Int
    private var termination: Termination?
    private var output = Data(), errors = Data()
    private var truncated = false
    private var finished: Result?

    /// Starts `executable` (a path; a bare name is looked up in `PATH`) with `arguments`.
    ///
    /// - Parameters:
    ///   - executable: the program: a path, or a bare name looked up in `PATH`.
    ///   - arguments: its arguments (without the program's name).
    ///   - environment: the child's whole environment (nil: certstore's own).
    ///   - currentDirectory: where the child starts (nil: certstore's working directory).
    ///   - input: what the child reads on standard input.
    ///   - mergeErrors: standard error goes into the same pipe as standard output, interleaved as written.
    ///   - outputLimit: bytes kept of each stream; the rest is read and dropped.
    package init(executable: String, arguments: [String] = [], environment: [String: String]? = nil,
                currentDirectory: String? = nil, input: Input = .null, mergeErrors: Bool = false,
                outputLimit: Int = Int.max) throws {
        self.outputLimit = outputLimit
        readerCount = mergeErrors ? 1 : 2
        // Close-on-exec from birth: a child started by another thread at this moment cannot inherit them.
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        var opened: [Int32] = []
        func fail(_ what: String, _ code: Int32) -> CertStoreError {
            opened.forEach { close($0) }
            return CertStoreError(.internalError, "cannot start \(executable): \(what): \(String(cString: strerror(code)))")
        }
        guard certstore_pipe2(&outPipe, O_CLOEXEC) == 0 else { throw fail("pipe", errno) }
        opened += outPipe
        if !mergeErrors {
            guard certstore_pipe2(&errPipe, O_CLOEXEC) == 0 else { throw fail("pipe", errno) }
            opened += errPipe
        }
        if case .data = input {
            guard certstore_pipe2(&inPipe, O_CLOEXEC) == 0 else { throw fail("pipe", errno) }
            opened += inPipe
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let currentDirectory {
            guard let addchdir = SpawnExtensions.addchdir else {
                throw fail("posix_spawn_file_actions_addchdir_np (glibc 2.29)", ENOSYS)
            }
            let code = addchdir(&actions, currentDirectory)
            guard code == 0 else { throw fail("chdir \(currentDirectory)", code) }
        }
        if case .data = input {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // dup2 clears close-on-exec on the target, so 0, 1 and 2 survive the exec and nothing else does.
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, mergeErrors ? outPipe[1] : errPipe[1], 2)
        // Without closefrom (glibc < 2.34) a child inherits only what is not close-on-exec; certstore opens
        // its own files close-on-exec.
        if let addclosefrom = SpawnExtensions.addclosefrom { _ = addclosefrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var spawned: pid_t = 0
        let code = executable.contains("/")
            ? posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&spawned, executable, &actions, &attributes, argv, envp)
        guard code == 0 else { throw fail("posix_spawn", code) }
        let pid = spawned
        processIdentifier = pid
        // The child's ends are the child's now.
        close(outPipe[1])
        if !mergeErrors { close(errPipe[1]) }
        if case .data = input { close(inPipe[0]) }

        startReader(outPipe[0], isError: false)
        if !mergeErrors { startReader(errPipe[0], isError: true) }
        if case .data(let bytes) = input { startWriter(inPipe[1], bytes) }
        Thread { [self] in
            var raw: Int32 = 0
            var result = waitpid(pid, &raw, 0)
            while result < 0 && errno == EINTR { result = waitpid(pid, &raw, 0) }
            let failure = result < 0 ? errno : 0
            let signal = raw & 0x7F
            lock.withLock {
                termination = failure != 0 ? .unknown(failure) : signal == 0 ? .exited((raw >> 8) & 0xFF) : .signaled(signal)
            }
            exitedSignal.signal()
        }.start()
    }

    private func startReader(_ fd: Int32, isError: Bool) {
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                lock.withLock {
                    let kept = isError ? errors.count : output.count
                    let room = max(0, outputLimit - kept)
                    if n > room { truncated = true }
                    if room > 0 {
                        if isError { errors.append(contentsOf: buffer[0..<min(n, room)]) } else { output.append(contentsOf: buffer[0..<min(n, room)]) }
                    }
                }
            }
            close(fd)
            readersDone.signal()
        }.start()
    }

    private func startWriter(_ fd: Int32, _ bytes: Data) {
        Thread {
            // SIGPIPE is sent to the writing thread: blocked here, a child that stops reading gives EPIPE
            // instead of killing certstore.
            var pipeOnly = sigset_t()
            sigemptyset(&pipeOnly)
            sigaddset(&pipeOnly, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeOnly, nil)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    offset += n
                }
            }
            close(fd)
        }.start()
    }

    /// The child has ended (and was reaped).
    package var hasExited: Bool { lock.withLock { termination != nil } }

    /// Sends `signal` to the child's process group (the child and everything it started), unless it has ended.
    package func signal(_ signal: Int32) {
        lock.withLock {
            // Under the lock the child is not reaped yet, so its group id cannot belong to anyone else.
            if termination == nil { kill(-processIdentifier, signal) }
        }
    }

    /// Waits for the child to end and for its output. After `timeout` seconds the group gets SIGTERM, then
    /// SIGKILL `grace` seconds later.
    package func wait(timeout: Double? = nil, grace: Double = 0.2) -> Result {
        if let done = lock.withLock({ finished }) { return done }
        var timedOut = false
        if let timeout {
            if exitedSignal.wait(timeout: .now() + timeout) == .timedOut {
                timedOut = true
                signal(SIGTERM)
                if exitedSignal.wait(timeout: .now() + grace) == .timedOut {
                    signal(SIGKILL)
                    exitedSignal.wait()
                }
            }
        } else {
            exitedSignal.wait()
        }
        exitedSignal.signal()  // later waits (and a concurrent one) return at once
        if timedOut {
            // Whatever the child left behind in its group must not keep the output pipes open.
            kill(-processIdentifier, SIGKILL)
        }
        // A grandchild that left the group may hold a pipe open; its output is not worth hanging for.
        for _ in 0..<readerCount { _ = readersDone.wait(timeout: .now() + 10) }
        return lock.withLock {
            if let done = finished { return done }
            let done = Result(termination: termination ?? .signaled(SIGKILL), standardOutput: output,
                              standardError: errors, timedOut: timedOut, truncated: truncated)
            finished = done
            return done
        }
    }
}

/// glibc's posix_spawn extensions, looked up at run time: their declarations need _GNU_SOURCE, and a module
/// built with it disagrees with Dispatch's view of the same system headers.
private enum SpawnExtensions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addchdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let addclosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(address, to: T.self)
    }
}
