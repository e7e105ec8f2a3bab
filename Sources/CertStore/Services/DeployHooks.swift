import Foundation

/// Executables in `<location>/Hooks/`, run in name order after a service's files switched — where a reload
/// of postfix, dovecot or nginx belongs (certbot's deploy hooks, for certstore).
public struct DeployHooks: Sendable {
    public struct Outcome: Sendable {
        public let hook: String
        public let service: ExchangeService
        /// The send connector whose files changed, when it was a connector's.
        public var connector: String? = nil
        public let exitStatus: Int32?
        public let timedOut: Bool
        public let output: String
        /// The hook ran, but how it ended could not be learnt (`waitpid` failed): never a success.
        public var exitStatusUnknown = false
        public var succeeded: Bool { exitStatus == 0 && !timedOut && !exitStatusUnknown }
    }

    public let store: StoreLocation
    public var timeout: Double = 60

    public init(store: StoreLocation) { self.store = store }

    public var directory: URL { store.directory.appendingPathComponent("Hooks", isDirectory: true) }

    /// The hooks that would run: regular, executable files not starting with a dot, in name order.
    public func hooks() -> [URL] {
        ((try? FileSystem.list(directory)) ?? []).sorted().compactMap { name in
            guard !name.hasPrefix(".") else { return nil }
            let url = directory.appendingPathComponent(name)
            var info = stat()
            guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(url.path, X_OK) == 0 else { return nil }
            return url
        }
    }

    /// Why a hook must not run: it (or the Hooks directory) can be changed by someone other than root or
    /// the account running certstore — a hook runs with certstore's privileges. Nil when it is safe.
    func unsafeReason(_ hook: URL) -> String? {
        for url in [directory, hook] {
            var info = stat()
            guard lstat(url.path, &info) == 0 else { return "\(url.path) cannot be inspected" }
            if (info.st_mode & S_IFMT) == S_IFLNK { return "\(url.path) is a symbolic link" }
            if info.st_uid != 0 && info.st_uid != geteuid() { return "\(url.path) is owned by uid \(info.st_uid)" }
            if info.st_mode & 0o022 != 0 { return "\(url.path) is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8)))" }
        }
        return nil
    }

    /// One hook to run for one changed service, with everything it is told: listed under the operation's
    /// lock, run after it is released.
    public struct Invocation: Sendable {
        public let hook: URL
        public let change: ServiceFiles.Change
        /// The hook's whole environment (`environment(for:)`).
        public let environment: [String: String]
    }

    /// The hooks that follow `changes`: every hook once per change, in name order.
    public func invocations(for changes: [ServiceFiles.Change]) -> [Invocation] {
        guard !changes.isEmpty else { return [] }
        let hooks = hooks()
        return changes.flatMap { change in hooks.map { Invocation(hook: $0, change: change, environment: environment(for: change)) } }
    }

    /// Runs what an operation's outcome lists, after its lock is released, each hook in the environment its
    /// invocation carries (nothing of certstore's own). A hook that fails or times out is reported; the change
    /// it follows stands.
    public func run(_ invocations: [Invocation]) -> [Outcome] {
        invocations.map { run($0.hook, $0.change, environment: $0.environment) }
    }

    /// The whole environment of a hook, and nothing from certstore's own (which may hold a PKCS#12 password
    /// named by `--password-env`, proxy credentials, or anything else its caller had): `PATH` (the system
    /// directories), `HOME` (certstore's account's), `LANG=C.UTF-8`, `CERTSTORE_SERVICE`,
    /// `CERTSTORE_CONNECTOR` (the send connector whose files changed; empty for a service's),
    /// `CERTSTORE_OLD_THUMBPRINT` and `CERTSTORE_NEW_THUMBPRINT` (empty when none), `CERTSTORE_SERVICE_DIR`,
    /// `CERTSTORE_ROOT` and `CERTSTORE_LOCATION`.
    public func environment(for change: ServiceFiles.Change) -> [String: String] {
        let home = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/"
        return [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home.isEmpty ? "/" : home,
            "LANG": "C.UTF-8",
            "CERTSTORE_SERVICE": change.service.rawValue,
            "CERTSTORE_CONNECTOR": change.connector ?? "",
            "CERTSTORE_OLD_THUMBPRINT": change.oldThumbprint?.value ?? "",
            "CERTSTORE_NEW_THUMBPRINT": change.newThumbprint?.value ?? "",
            "CERTSTORE_SERVICE_DIR": change.directory,
            "CERTSTORE_ROOT": store.root.path,
            "CERTSTORE_LOCATION": store.location,
        ]
    }

    private func run(_ hook: URL, _ change: ServiceFiles.Change, environment: [String: String]) -> Outcome {
        if let reason = unsafeReason(hook) {
            return Outcome(hook: hook.lastPathComponent, service: change.service, exitStatus: nil, timedOut: false,
                           output: "not run: \(reason); hooks run as certstore does, so only root (or certstore's own account) may change them")
        }
        let child: ChildProcess
        do {
            // Its own process group: a timeout stops the hook and everything it started, never certstore.
            child = try ChildProcess(executable: hook.path, environment: environment, input: .null,
                                     mergeErrors: true, outputLimit: 64 * 1024)
        } catch {
            return Outcome(hook: hook.lastPathComponent, service: change.service, exitStatus: nil, timedOut: false,
                           output: "cannot run: \(error)")
        }
        let result = child.wait(timeout: timeout)
        var output = String(decoding: result.standardOutput, as: UTF8.self)
        var unknown = false
        if case .unknown(let code) = result.termination {
            // Never reported as a success: nobody knows whether the reload happened.
            unknown = true
            output += (output.isEmpty || output.hasSuffix("\n") ? "" : "\n") + "its exit status could not be collected (waitpid: \(String(cString: strerror(code))))"
        }
        var outcome = Outcome(hook: hook.lastPathComponent, service: change.service,
                              exitStatus: result.timedOut ? nil : result.termination.shellStatus,
                              timedOut: result.timedOut, output: output)
        outcome.exitStatusUnknown = unknown
        return outcome
    }
}

