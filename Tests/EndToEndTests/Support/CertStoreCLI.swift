import Foundation
import Testing

/// Finds and runs the real `certstore` binary.
enum CertStoreCLI {
    /// `$CERTSTORE_BIN`, else the `certstore` executable in the products directory (debug/release) that holds
    /// this test bundle.
    static let binary: Result<URL, RunnerError> = locate()

    static func requireBinary() throws -> URL {
        switch binary {
        case .success(let url): return url
        case .failure(let error): throw error
        }
    }

    private static func locate() -> Result<URL, RunnerError> {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["CERTSTORE_BIN"], !explicit.isEmpty {
            guard fm.isExecutableFile(atPath: explicit) else {
                return .failure(RunnerError("CERTSTORE_BIN=\(explicit) is not an executable file"))
            }
            return .success(URL(fileURLWithPath: explicit).standardizedFileURL)
        }
        var starts: [URL] = []
        if let url = Bundle.main.executableURL { starts.append(url) }
        if let first = CommandLine.arguments.first, !first.isEmpty {
            starts.append(URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath)))
        }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") { starts.append(URL(fileURLWithPath: exe)) }
        starts.append(Bundle.main.bundleURL)
        var looked: [String] = []
        for start in starts {
            var directory = start.standardizedFileURL.deletingLastPathComponent()
            while directory.path != "/" && !directory.path.isEmpty {
                let candidate = directory.appendingPathComponent("certstore")
                looked.append(candidate.path)
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   fm.isExecutableFile(atPath: candidate.path) {
                    return .success(candidate)
                }
                if ["debug", "release"].contains(directory.lastPathComponent) { break }
                directory = directory.deletingLastPathComponent()
            }
        }
        return .failure(RunnerError("""
            the certstore binary was not found (looked at: \(looked.joined(separator: ", "))). \
            Build it first (swift build --build-tests --scratch-path .build-e2e) or set CERTSTORE_BIN to its path.
            """))
    }

    /// The environment children get: no colour, no inherited store root or limits.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CERTSTORE_ROOT")
        env.removeValue(forKey: "CERTSTORE_MAX_ITERATIONS")
        env["NO_COLOR"] = "1"
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Starts `certstore ARGS` without waiting. `umask000` runs it under `umask 000` via /bin/sh.
    static func start(_ arguments: [String], stdin: StandardInput = .null, environment extra: [String: String] = [:],
                      currentDirectory: URL? = nil, umask000: Bool = false) throws -> RunningProcess {
        let binary = try requireBinary()
        let display = ["certstore"] + arguments
        if umask000 {
            return try RunningProcess(executable: URL(fileURLWithPath: "/bin/sh"),
                                      arguments: ["-c", "umask 000; exec \"$0\" \"$@\"", binary.path] + arguments,
                                      displayArguments: ["umask 000;"] + display, stdin: stdin,
                                      environment: environment(extra), currentDirectory: currentDirectory)
        }
        return try RunningProcess(executable: binary, arguments: arguments, displayArguments: display, stdin: stdin,
                                  environment: environment(extra), currentDirectory: currentDirectory)
    }
}

/// Runs `certstore ARGS` to completion (60 s at most; a hang is a failure, never a stuck suite).
@discardableResult
func certstore(_ arguments: [String], stdin: StandardInput = .null, environment: [String: String] = [:],
               currentDirectory: URL? = nil, umask000: Bool = false, timeout: Double = 60,
               sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    let result = try CertStoreCLI.start(arguments, stdin: stdin, environment: environment,
                                        currentDirectory: currentDirectory, umask000: umask000).wait(timeout: timeout)
    if result.timedOut {
        Issue.record("certstore did not finish within \(timeout) s:\n\(result)", sourceLocation: sourceLocation)
    }
    return result
}

/// Runs certstore and records an issue unless it exits with `status`.
@discardableResult
func certstore(expecting status: Int32, _ arguments: [String], stdin: StandardInput = .null,
               environment: [String: String] = [:], currentDirectory: URL? = nil, umask000: Bool = false,
               timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
    let result = try certstore(arguments, stdin: stdin, environment: environment, currentDirectory: currentDirectory,
                               umask000: umask000, timeout: timeout, sourceLocation: sourceLocation)
    #expect(result.status == status, "expected exit \(status):\n\(result)", sourceLocation: sourceLocation)
    return result
}
