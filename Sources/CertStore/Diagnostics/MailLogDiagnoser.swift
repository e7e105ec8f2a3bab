import Foundation

/// `diagnose` on the logs of Linux mail daemons — postfix, dovecot, exim — in syslog files, journalctl output or the
/// daemons' own files: finds TLS failures, ties the lines of one failure together (postfix logs a failure over several
/// lines of one process), groups them, and explains each against the store: which binding or send connector, which
/// certificate, which key file, and the commands that fix it.
public struct MailLogDiagnoser: Sendable {
    /// One TLS failure as logged.
    public struct Failure: Sendable {
        public let file: String
        public let line: Int
        public let timestamp: String
        public let host: String?
        public let program: String
        public let pid: String?
        public let daemon: MailDaemon
        public let direction: MailTLSDirection
        public let kind: MailTLSFailureKind
        /// The TLS library's reason (`no shared cipher`, `No such file or directory`, `Key is for a different cert …`).
        public let detail: String
        /// Certificate and key files the log names.
        public let paths: [String]
        /// The other end, as logged (`localhost[127.0.0.1]`, `127.0.0.1[127.0.0.1]:25`, `127.0.0.1`).
        public let peer: String?
        /// The log line that started the failure.
        public let message: String
    }

    /// Failures of one kind, from one program, about the same files, in order of first appearance.
    public struct Group: Sendable {
        public let daemon: MailDaemon
        public let program: String
        public let direction: MailTLSDirection
        public let kind: MailTLSFailureKind
        public let detail: String
        public let paths: [String]
        /// The services this failure is about (SMTP for postfix/smtpd and exim receiving, IMAP/POP for dovecot).
        public let services: [ExchangeService]
        public var count: Int
        /// Later lines that followed from these failures (a `no shared cipher` because no certificate loaded, a deferred
        /// message, dovecot's `TLS initialization failed`).
        public var consequences: Int
        public var first: Failure
        public var last: Failure
        public let diagnosis: MailLogDiagnosis
    }

    public struct Result: Sendable {
        public var linesRead = 0
        /// Lines from postfix, dovecot or exim.
        public var mailLines = 0
        public var failures = 0
        public var groups: [Group] = []
        public var malformed: [ProtocolLogReader.Malformed] = []
        public var malformedCount = 0
        /// Which daemons were seen.
        public var daemons: Set<MailDaemon> = []
    }

    public let store: StoreLocation
    /// At most this many processes' unfinished lines are kept; memory is bounded by it, not by the log.
    public var maxOpenProcesses = 10_000
    public init(store: StoreLocation) { self.store = store }

    /// Diagnoses the files (each already detected as a mail log).
    public func diagnose(_ files: [URL]) throws -> Result {
        var result = Result()
        var state = State(limit: max(1, maxOpenProcesses))
        var explainer: MailLogExplainer?
        func explain(_ failure: Failure, services: [ExchangeService]) -> MailLogDiagnosis {
            if explainer == nil { explainer = MailLogExplainer(store: store) }
            return explainer!.diagnose(failure, services: services)
        }
        func emit(_ failure: Failure, process: String) {
            result.failures += 1
            let services = Self.services(of: failure)
            let key = [failure.daemon.rawValue, Self.programKey(failure.program), failure.direction.rawValue, failure.kind.rawValue,
                       failure.kind.isLoadFailure ? "" : failure.detail, failure.paths.joined(separator: "\n")].joined(separator: "|")
            let index: Int
            if let existing = state.groupIndex[key] {
                index = existing
                result.groups[index].count += 1
                result.groups[index].last = failure
            } else {
                index = result.groups.count
                state.groupIndex[key] = index
                result.groups.append(Group(daemon: failure.daemon, program: Self.programKey(failure.program), direction: failure.direction,
                                           kind: failure.kind, detail: failure.detail, paths: failure.paths, services: services,
                                           count: 1, consequences: 0, first: failure, last: failure,
                                           diagnosis: explain(failure, services: services)))
            }
            state.update(process) {
                $0.lastGroup = index
                if failure.kind.isLoadFailure { $0.loadGroup = index }
            }
        }
        func flush(_ process: String) {
            guard let pending = state.processes[process]?.pending else { return }
            state.update(process) { $0.pending = nil }
            if case .load(let failure) = pending { emit(failure, process: process) }
        }

        for file in files {
            let name = file.lastPathComponent
            try LineStream(maxLength: ProtocolLogReader.maxLineLength).read(file, line: { number, bytes in
                var text = String(decoding: bytes, as: UTF8.self)
                if number == 1, text.hasPrefix("\u{FEFF}") { text.removeFirst() }
                if text.hasSuffix("\r") { text.removeLast() }
                if text.trimmingCharacters(in: .whitespaces).isEmpty || MailLogLine.isJournalMarker(text) { return }
                result.linesRead += 1
                guard let line = MailLogLine.parse(text) else {
                    result.malformedCount += 1
                    if result.malformed.count < 100 {
                        result.malformed.append(ProtocolLogReader.Malformed(file: name, line: number, reason: "not a syslog, journal, dovecot or exim log line"))
                    }
                    return
                }
                guard let (daemon, component) = MailLogClassifier.daemon(of: line) else { return }
                result.mailLines += 1
                result.daemons.insert(daemon)
                let process = [line.host ?? "", line.program, line.pid ?? (daemon == .dovecot ? component : "")].joined(separator: "|")
                func failure(_ kind: MailTLSFailureKind, _ detail: String, peer: String?, direction: MailTLSDirection, paths: [String]) -> Failure {
                    Failure(file: name, line: number, timestamp: line.timestamp, host: line.host, program: Self.program(line, daemon: daemon, component: component),
                            pid: line.pid, daemon: daemon, direction: direction, kind: kind, detail: detail, paths: paths, peer: peer,
                            message: line.message)
                }
                // Only postfix keeps going after its certificate failed to load (offering STARTTLS without one, deferring
                // mail): its later handshake failures in that process follow from the load failure. Dovecot and exim
                // log each connection's failure whole.
                func loadConsequence(_ kind: MailTLSFailureKind) -> Bool {
                    guard daemon == .postfix, [.noSharedCipher, .handshakeFailed, .tlsUnavailable, .clientCertificateMissing].contains(kind),
                          let group = state.processes[process]?.loadGroup else { return false }
                    result.groups[group].consequences += 1
                    return true
                }
                guard let signal = MailLogClassifier.classify(line, daemon: daemon, component: component) else {
                    flush(process)  // a handshake error without its reason (a client that went away) is no certificate failure
                    return
                }
                switch signal {
                case .load(let kind, let detail, let paths):
                    if case .load(var open)? = state.processes[process]?.pending {
                        open = Self.merge(open, kind: kind, detail: nil, paths: paths)
                        state.update(process) { $0.pending = .load(open) }
                    } else {
                        flush(process)
                        let direction = daemon == .postfix ? MailLogClassifier.direction(postfixComponent: component) : .inbound
                        state.update(process) { $0.pending = .load(failure(kind, detail, peer: nil, direction: direction, paths: paths)) }
                    }
                case .library(let reason, let paths):
                    switch state.processes[process]?.pending {
                    case .load(let open)?:
                        let informative = !reason.lowercased().hasSuffix(" lib") && !open.detailIsReason
                        let refined = Self.merge(open, kind: MailLogClassifier.refine(open.kind, reason: reason),
                                                 detail: informative ? reason : nil, paths: paths)
                        state.update(process) { $0.pending = .load(refined) }
                    case .handshake(let peer, let direction)?:
                        state.update(process) { $0.pending = nil }
                        let kind = MailLogClassifier.kind(forReason: reason, direction: direction)
                        if !loadConsequence(kind) { emit(failure(kind, reason, peer: peer, direction: direction, paths: paths), process: process) }
                    case nil:
                        let direction = MailLogClassifier.direction(postfixComponent: component)
                        let kind = MailLogClassifier.kind(forReason: reason, direction: direction)
                        if !loadConsequence(kind) { emit(failure(kind, reason, peer: nil, direction: direction, paths: paths), process: process) }
                    }
                case .handshake(let peer, let direction):
                    flush(process)
                    state.update(process) { $0.pending = .handshake(peer: peer, direction: direction) }
                case .failure(let kind, let detail, let peer, let direction, let paths):
                    flush(process)
                    if !loadConsequence(kind) { emit(failure(kind, detail, peer: peer, direction: direction, paths: paths), process: process) }
                case .consequence(let otherwise, let detail, let peer, let direction):
                    flush(process)
                    if let group = state.processes[process]?.lastGroup {
                        result.groups[group].consequences += 1
                    } else if let otherwise {
                        emit(failure(otherwise, detail, peer: peer, direction: direction, paths: []), process: process)
                    }
                }
            }, tooLong: { number in
                result.malformedCount += 1
                if result.malformed.count < 100 {
                    result.malformed.append(ProtocolLogReader.Malformed(file: name, line: number, reason: "longer than \(ProtocolLogReader.maxLineLength) bytes"))
                }
            })
        }
        for process in state.processes.keys.sorted() { flush(process) }
        return result
    }

    /// `postfix/smtpd`, `dovecot/imap-login`, `exim`.
    static func program(_ line: MailLogLine, daemon: MailDaemon, component: String) -> String {
        switch daemon {
        case .postfix: line.program
        case .dovecot: "dovecot/\(component)"
        case .exim: "exim"
        }
    }

    /// A multi-instance postfix (`postfix-out/smtp`) groups with its own name; the pid never counts.
    static func programKey(_ program: String) -> String { program }

    static func services(of failure: Failure) -> [ExchangeService] {
        switch failure.daemon {
        case .postfix, .exim: return failure.direction == .inbound ? [.smtp] : []
        case .dovecot:
            if failure.program.hasSuffix("imap-login") { return [.imap] }
            if failure.program.hasSuffix("pop3-login") { return [.pop] }
            return [.imap, .pop]
        }
    }

    /// A load failure's lines merged: the most telling kind wins (a mismatch over an unreadable file over an
    /// unloadable one), paths are collected.
    static func merge(_ failure: Failure, kind: MailTLSFailureKind, detail: String?, paths: [String]) -> Failure {
        func rank(_ k: MailTLSFailureKind) -> Int {
            switch k {
            case .keyCertificateMismatch: 3
            case .keyFileUnreadable, .certificateFileUnreadable: 2
            default: 1
            }
        }
        let best = rank(kind) > rank(failure.kind) ? kind : failure.kind
        var allPaths = failure.paths
        for path in paths where !allPaths.contains(path) { allPaths.append(path) }
        return Failure(file: failure.file, line: failure.line, timestamp: failure.timestamp, host: failure.host, program: failure.program,
                       pid: failure.pid, daemon: failure.daemon, direction: failure.direction, kind: best,
                       detail: detail ?? failure.detail, paths: allPaths, peer: failure.peer, message: failure.message)
    }

    /// Per-process memory of what is still being logged.
    struct State {
        enum Pending {
            case load(Failure)
            case handshake(peer: String, direction: MailTLSDirection)
        }
        struct Process {
            var pending: Pending?
            var lastGroup: Int?
            var loadGroup: Int?
        }
        let limit: Int
        var processes: [String: Process] = [:]
        var order: [String] = []
        var groupIndex: [String: Int] = [:]

        mutating func update(_ key: String, _ change: (inout Process) -> Void) {
            if processes[key] == nil {
                if processes.count >= limit, let victim = order.first(where: { processes[$0] != nil }) {
                    processes[victim] = nil  // forgotten: its unfinished lines are dropped, never half-diagnosed
                }
                order.append(key)
                if order.count > 2 * limit { order = order.filter { processes[$0] != nil } }
            }
            var process = processes[key] ?? Process()
            change(&process)
            processes[key] = process
        }
    }
}

extension MailLogDiagnoser.Failure {
    /// The detail already is a TLS library reason (not the daemon's own sentence).
    var detailIsReason: Bool { detail != message && !detail.hasPrefix("cannot get ") && !detail.hasPrefix("key at index ") && !detail.hasPrefix("error loading ") }
}
