import Foundation
import Synchronization
import Testing
@testable import CertStore

@Suite("ChildProcess: programs started with posix_spawn")
struct ChildProcessTests {
    private func sh(_ script: String, input: ChildProcess.Input = .null, environment: [String: String]? = nil,
                    currentDirectory: String? = nil, mergeErrors: Bool = false, outputLimit: Int = .max,
                    timeout: Double? = 30) throws -> ChildProcess.Result {
        try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], environment: environment,
                         currentDirectory: currentDirectory, input: input, mergeErrors: mergeErrors,
                         outputLimit: outputLimit).wait(timeout: timeout)
    }

    @Test("exit status, output and errors come back separately")
    func exitAndOutput() throws {
        let result = try sh("echo out; echo err >&2; exit 3")
        #expect(result.termination == .exited(3))
        #expect(result.termination.shellStatus == 3)
        #expect(String(decoding: result.standardOutput, as: UTF8.self) == "out\n")
        #expect(String(decoding: result.standardError, as: UTF8.self) == "err\n")
        #expect(!result.timedOut && !result.truncated)
    }

    @Test("death by a signal is reported as the signal, 128 + N for a shell")
    func signaled() throws {
        let result = try sh("kill -9 $$")
        #expect(result.termination == .signaled(SIGKILL))
        #expect(result.termination.shellStatus == 137)
    }

    @Test("standard input: /dev/null by default, or the given bytes then end of file")
    func standardInput() throws {
        #expect(try sh("cat | wc -c").standardOutput == Data("0\n".utf8))
        let big = Data(repeating: 0x41, count: 300_000)  // more than a pipe holds
        let result = try sh("cat | wc -c", input: .data(big))
        #expect(String(decoding: result.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "300000")
    }

    @Test("a child that stops reading standard input does not take the parent with it (no SIGPIPE)")
    func childClosesInput() throws {
        let result = try sh("exec 0<&-; echo done", input: .data(Data(repeating: 0, count: 1_000_000)))
        #expect(result.termination == .exited(0))
        #expect(result.standardOutput == Data("done\n".utf8))
    }

    @Test("merged errors interleave with output in one stream")
    func merged() throws {
        let result = try sh("echo one; echo two >&2; echo three", mergeErrors: true)
        #expect(String(decoding: result.standardOutput, as: UTF8.self) == "one\ntwo\nthree\n")
        #expect(result.standardError.isEmpty)
    }

    @Test("output beyond the limit is read (the child never blocks) and dropped")
    func outputLimit() throws {
        let result = try sh("head -c 1000000 /dev/zero", outputLimit: 1000)
        #expect(result.termination == .exited(0))
        #expect(result.standardOutput.count == 1000)
        #expect(result.truncated)
    }

    @Test("environment and working directory are the child's own; the parent's directory does not move")
    func environmentAndDirectory() throws {
        let directory = try Scratch.makeDirectory("child-cwd")
        let before = FileManager.default.currentDirectoryPath
        let result = try sh("pwd; echo \"$ONLY_THIS\"; env | wc -l", environment: ["ONLY_THIS": "yes", "PATH": "/usr/bin:/bin"],
                            currentDirectory: directory.path)
        let lines = String(decoding: result.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == directory.resolvingSymlinksInPath().path)
        #expect(lines.dropFirst().first == "yes")
        #expect(FileManager.default.currentDirectoryPath == before)
    }

    @Test("the child inherits no descriptor above standard error (a store lock stays the parent's)")
    func noInheritedDescriptors() throws {
        let leaked = open("/dev/null", O_RDONLY)  // not close-on-exec
        defer { close(leaked) }
        #expect(leaked > 2)
        let result = try sh("ls /proc/$$/fd; true")  // `; true`: the shell must not exec ls in its place
        let descriptors = String(decoding: result.standardOutput, as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
        // ls itself opens one for the directory it lists (of its own process, not the shell's): the shell has 0, 1, 2.
        #expect(Set(descriptors) == [0, 1, 2], "the child had \(descriptors)")
    }

    @Test("a timeout stops the child and everything it started, and says so")
    func timeoutStopsTheGroup() throws {
        let marker = try Scratch.makeDirectory("child-timeout").appendingPathComponent("grandchild-pid")
        let start = Date()
        let result = try sh("sleep 30 & echo $! > \(marker.path); wait", timeout: 0.5)
        #expect(result.timedOut)
        #expect(Date().timeIntervalSince(start) < 10, "the grandchild kept the output pipe open")
        let grandchild = try #require(Int32(String(decoding: try Data(contentsOf: marker), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(grandchild, 0) != 0 || (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8))?.contains(") Z ") == true
            if !gone { usleep(20_000) }
        }
        #expect(gone, "the grandchild \(grandchild) outlived the timeout")
    }

    @Test("a program that cannot be started is an error naming it")
    func cannotStart() {
        #expect(throws: CertStoreError.self) {
            _ = try ChildProcess(executable: "/nonexistent/program")
        }
        #expect(throws: CertStoreError.self) {
            _ = try ChildProcess(executable: "no-such-program-anywhere-\(UUID().uuidString)")
        }
    }

    @Test("hundreds of children started from many threads at once, with many descriptors open (Foundation.Process crashed here)")
    func manyAtOnce() throws {
        let held = (0..<200).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }
        defer { held.forEach { close($0) } }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<40 {
                let ok = (try? ChildProcess(executable: "/bin/echo", arguments: ["\(worker)-\(round)"]).wait(timeout: 30))
                    .map { $0.termination == .exited(0) && $0.standardOutput == Data("\(worker)-\(round)\n".utf8) } ?? false
                if !ok { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }
}
