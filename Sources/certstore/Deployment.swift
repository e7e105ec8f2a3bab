import CertStore
import Foundation

/// Prints what followed from an operation (its `OperationOutcome`): the services whose files switched, what
/// changed for send connectors, and the deploy hooks it lists, which run here — after the library released
/// the store lock. Reported on stderr, so a command's own output (JSON included) stays clean. A failed hook
/// never changes the exit status of the command (its change stands; the hook's failure is the hook's).
enum Consequences {
    /// Returns the error when the service files could not be brought in line (already reported as a warning).
    @discardableResult
    static func report<Value>(_ outcome: OperationOutcome<Value>, store: StoreLocation, hookTimeout: Double = 60) -> CertStoreError? {
        for change in outcome.connectorChanges {
            let line = Terminal.sanitize(change.summary)
            if change.after.map({ $0.severity == .critical }) == true {
                Terminal.warn(line)
            } else {
                Terminal.err(line)
            }
        }
        if let error = outcome.serviceFailure {
            Terminal.warn("the service files could not be brought in line: \(Terminal.sanitize(error.message)); the daemons keep the files they had")
            Terminal.err("hint: " + (error.hint ?? "fix the cause, then run `certstore deploy`"))
        }
        for change in outcome.serviceChanges {
            if let refusal = change.refusal {
                Terminal.warn("\(Terminal.sanitize(change.label))'s files now make outbound TLS fail, so mail defers as on Exchange (\(refusal))"
                              + (change.oldThumbprint.map { "; they held \($0)" } ?? "") + ": \(Terminal.sanitize(change.directory))")
                continue
            }
            let now = change.newThumbprint?.value ?? (change.connector == nil ? "nothing (no bound certificate with a usable key)" : "no certificate")
            let why = change.reasons.isEmpty || change.reasons == ["new certificate"] ? "" : " [\(change.reasons.joined(separator: ", "))]"
            Terminal.err("\(Terminal.sanitize(change.label)) now presents \(now)" + (change.oldThumbprint.map { " (was \($0))" } ?? "") + "\(why): \(Terminal.sanitize(change.directory))")
        }
        var hooks = DeployHooks(store: store)
        hooks.timeout = hookTimeout
        for result in hooks.run(outcome.hooks) {
            if result.succeeded {
                Terminal.err("hook \(result.hook) (\(result.service.rawValue)): ok")
            } else {
                let why = result.timedOut ? "timed out after \(Int(hookTimeout)) s and was stopped"
                    : result.exitStatusUnknown ? "exit status unknown"
                    : result.exitStatus.map { "exited \($0)" } ?? "could not run"
                Terminal.warn("hook \(result.hook) (\(result.service.rawValue)) \(why); the new files are in place, the daemon may not have reloaded")
            }
            let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty {
                for line in text.split(separator: "\n").prefix(20) { Terminal.err("  | \(Terminal.sanitize(String(line)))") }
            }
        }
        return outcome.serviceFailure
    }
}
