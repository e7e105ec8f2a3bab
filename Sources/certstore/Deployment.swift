import CertStore
import Foundation

/// After a command changed bindings or certificates: bring the services' files in line, then run the
/// deploy hooks for every service whose certificate changed. Reported on stderr; never changes the exit
/// status of the command that ran (its change stands, as the issue of a failed hook is the hook's).
enum Deployment {
    /// Returns the error when the files could not be brought in line (already reported as a warning).
    @discardableResult
    static func synchronize(_ store: CertificateStore, hookTimeout: Double = 60) -> CertStoreError? {
        let changes: [ServiceFiles.Change]
        do {
            changes = try ServiceFiles(store: store).synchronize()
        } catch let error as CertStoreError {
            Terminal.warn("the service files could not be updated: \(Terminal.sanitize(error.message))")
            if let hint = error.hint { Terminal.err("hint: " + hint) }
            return error
        } catch {
            Terminal.warn("the service files could not be updated: \(error)")
            return CertStoreError(.internalError, "\(error)")
        }
        for change in changes {
            let now = change.newThumbprint ?? "nothing (no bound certificate with a usable key)"
            Terminal.err("\(change.service.rawValue) now presents \(now)" + (change.oldThumbprint.map { " (was \($0))" } ?? "") + ": \(change.directory)")
        }
        var hooks = DeployHooks(store: store)
        hooks.timeout = hookTimeout
        for outcome in hooks.run(for: changes) {
            if outcome.succeeded {
                Terminal.err("hook \(outcome.hook) (\(outcome.service.rawValue)): ok")
            } else {
                let why = outcome.timedOut ? "timed out after \(Int(hookTimeout)) s and was stopped" : outcome.exitStatus.map { "exited \($0)" } ?? "could not run"
                Terminal.warn("hook \(outcome.hook) (\(outcome.service.rawValue)) \(why); the new files are in place, the daemon may not have reloaded")
            }
            let text = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty {
                for line in text.split(separator: "\n").prefix(20) { Terminal.err("  | \(Terminal.sanitize(String(line)))") }
            }
        }
        return nil
    }
}
