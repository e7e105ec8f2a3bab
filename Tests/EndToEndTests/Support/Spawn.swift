import Foundation
import Testing

/// A child started for the reliability tests, which start hundreds of processes and kill some of them
/// mid-write: a `RunningProcess` (the library's posix_spawn-based `ChildProcess`) under the name those tests use.
typealias SpawnedProcess = RunningProcess

enum Spawn {
    /// `certstore ARGS` with the environment `CertStoreCLI` gives every child (no colour, no inherited root).
    static func certstore(_ arguments: [String]) throws -> SpawnedProcess {
        try SpawnedProcess(executable: try CertStoreCLI.requireBinary(), arguments: arguments,
                           displayArguments: ["certstore"] + arguments, environment: CertStoreCLI.environment())
    }

    static func program(_ path: String, _ arguments: [String]) throws -> SpawnedProcess {
        try SpawnedProcess(executable: URL(fileURLWithPath: path), arguments: arguments)
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
