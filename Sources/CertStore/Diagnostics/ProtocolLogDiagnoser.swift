import Foundation

/// `diagnose`: finds TLS failures in SMTP protocol logs and explains each against the store.
public struct ProtocolLogDiagnoser: Sendable {
    public struct Group: Sendable {
        public let connector: String
        public let error: String
        public let thumbprint: String?
        public var count: Int
        public var first: TLSFailure
        public var last: TLSFailure
        public let diagnosis: Diagnosis
    }

    public struct Result: Sendable {
        public var files: [String] = []
        public var linesRead = 0
        public var sessions = 0
        public var failures = 0
        /// Distinct (connector, certificate, error), in order of first appearance.
        public var groups: [Group] = []
        public var malformed: [ProtocolLogReader.Malformed] = []
        /// Malformed lines beyond the first 100 are only counted.
        public var malformedCount = 0
        /// Sessions forgotten while still open because `maxOpenSessions` others opened after them (a log whose
        /// sessions never end); a failure later in one of them is diagnosed without its logged certificate.
        public var sessionsForgotten = 0
    }

    public let store: StoreLocation
    /// At most this many sessions are followed at once: memory is bounded by it, not by the log, even when
    /// sessions never log their disconnect. The oldest open session is forgotten first.
    public var maxOpenSessions = 10_000
    public init(store: StoreLocation) { self.store = store }

    public func diagnose(_ paths: [String]) throws -> Result {
        try diagnose(files: try ProtocolLogReader.files(paths))
    }

    /// Diagnoses these protocol log files, in order.
    public func diagnose(files: [URL]) throws -> Result {
        let lookup = try Lookup(store: store)
        var result = Result()
        var sessions: [String: SessionState] = [:]
        // Keys in the order their sessions opened (closed ones included until the next compaction).
        var opened: [String] = []
        var oldest = 0
        var groupIndex: [String: Int] = [:]
        let limit = max(1, maxOpenSessions)
        let reader = ProtocolLogReader()
        for file in files {
            result.files.append(file.lastPathComponent)
            try reader.read(file, row: { row in
                result.linesRead += 1
                let key = "\(row.connector)|\(row.session)"
                let isNew = sessions[key] == nil
                if isNew { result.sessions += 1 }
                var state = sessions[key] ?? SessionState()
                defer {
                    if row.event == "-" {
                        sessions[key] = nil
                    } else {
                        sessions[key] = state
                        if isNew {
                            opened.append(key)
                            while sessions.count > limit && oldest < opened.count {
                                let victim = opened[oldest]
                                oldest += 1
                                if victim != key, sessions.removeValue(forKey: victim) != nil { result.sessionsForgotten += 1 }
                            }
                            if opened.count > 2 * limit + 1024 {  // drop closed and forgotten keys: amortised O(1) per row
                                opened = opened[oldest...].filter { sessions[$0] != nil }
                                oldest = 0
                            }
                        }
                    }
                }
                guard row.event == "*" else { return }
                let failureText = [row.context, row.data].first { $0.hasPrefix("TLS negotiation failed") }
                if let failureText {
                    let error = Self.errorName(failureText)
                    let failure = TLSFailure(file: row.file, line: row.line, dateTime: row.dateTime, connector: row.connector,
                                             session: row.session, remoteEndpoint: row.remoteEndpoint, error: error,
                                             certificate: state.sending.flatMap { $0.isEmpty ? nil : $0 })
                    result.failures += 1
                    let groupKey = "\(row.connector)|\(failure.certificate?.thumbprint ?? failure.certificate?.subject ?? "-")|\(error)"
                    if let index = groupIndex[groupKey] {
                        result.groups[index].count += 1
                        result.groups[index].last = failure
                    } else {
                        groupIndex[groupKey] = result.groups.count
                        result.groups.append(Group(connector: row.connector, error: error, thumbprint: failure.certificate?.thumbprint,
                                                   count: 1, first: failure, last: failure, diagnosis: lookup.diagnose(failure)))
                    }
                    state.block = .none
                    return
                }
                state.consume(row)
            }, malformed: { bad in
                result.malformedCount += 1
                if result.malformed.count < 100 { result.malformed.append(bad) }
            })
        }
        return result
    }

    /// `TLS negotiation failed with error NoCredentials` → `NoCredentials`.
    static func errorName(_ text: String) -> String {
        if let range = text.range(of: "with error ") { return String(text[range.upperBound...]).trimmingCharacters(in: .whitespaces) }
        if let range = text.range(of: "TLS negotiation failed, ") { return String(text[range.upperBound...]) }
        return text
    }

    /// What one session has logged about certificates so far.
    struct SessionState {
        enum Block { case none, sending, remote }
        var block = Block.none
        var sending: LoggedCertificate?

        mutating func consume(_ row: ProtocolLogReader.Row) {
            switch row.context {
            case "Sending certificate":
                block = .sending
                sending = row.data.isEmpty ? LoggedCertificate() : Self.singleRow(row.data)
            case "Remote certificate":
                block = .remote
            case "Certificate subject": if block == .sending { sending?.subject = row.data }
            case "Certificate issuer name": if block == .sending { sending?.issuer = row.data }
            case "Certificate serial number": if block == .sending { sending?.serialNumber = row.data }
            case "Certificate thumbprint": if block == .sending { sending?.thumbprint = row.data }
            case "Certificate alternate names":
                if block == .sending { sending?.alternateNames = row.data.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) } }
                block = .none
            default:
                break
            }
        }

        /// Newer builds log one row: `<Subject> <Issuer> <SerialNumber> <Thumbprint> <NotBefore> <NotAfter> <Domains>`.
        /// The separators are not documented, so the thumbprint (40 hex digits) anchors the parse: the token
        /// before it is the serial, the text before that holds subject then issuer (the issuer starts at the
        /// second `CN=`).
        static func singleRow(_ data: String) -> LoggedCertificate {
            var certificate = LoggedCertificate()
            let tokens = data.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            func isHex(_ s: String, _ length: Int? = nil) -> Bool {
                !s.isEmpty && s.allSatisfy(\.isHexDigit) && (length == nil || s.count == length)
            }
            // The serial may itself be 40 hex digits (20-byte serials are common): the thumbprint is the 40-digit
            // token that follows another hex token, else the first 40-digit token.
            let pair = tokens.indices.dropLast().first { isHex(tokens[$0]) && isHex(tokens[$0 + 1], 40) }
            guard let index = pair.map({ $0 + 1 }) ?? tokens.firstIndex(where: { isHex($0, 40) }) else { return certificate }
            certificate.thumbprint = tokens[index].uppercased()
            var namesEnd = index
            if index > 0, isHex(tokens[index - 1]) {
                certificate.serialNumber = tokens[index - 1].uppercased()
                namesEnd = index - 1
            }
            let names = tokens[..<namesEnd].joined(separator: " ")
            if let second = names.range(of: " CN=", options: .caseInsensitive) {
                certificate.subject = String(names[..<second.lowerBound])
                certificate.issuer = String(names[second.upperBound...]).isEmpty ? nil : "CN=" + names[second.upperBound...]
            } else if !names.isEmpty {
                certificate.subject = names
            }
            if let domains = tokens.last, tokens.count > index + 1, domains.contains(".") {
                certificate.alternateNames = domains.split(whereSeparator: { $0 == ";" || $0 == "," }).map(String.init)
            }
            return certificate
        }
    }

    /// Finds a logged certificate in the store and explains the failure.
    struct Lookup {
        let all: [StoreEntry]
        let bindings: ServiceBindings
        let trash: [TrashEntry]

        init(store: StoreLocation) throws {
            let my = store.path(of: .my)
            all = try StoreName.allCases.flatMap { try store.entries(in: my.sibling($0)).entries }
            bindings = try store.read(ServiceBindings.self)
            trash = (try? Trash(store: store).entries()) ?? []
        }

        func diagnose(_ failure: TLSFailure) -> Diagnosis {
            guard let logged = failure.certificate else {
                return Diagnosis(cause: .noCertificateLogged, matchedBy: .none, entry: nil, candidates: [], trashed: nil,
                                 explanation: "the session logged no \"Sending certificate\": no local certificate was loaded for the connector (protocol logging must be Verbose to see it)",
                                 fix: ["certstore connector resolve \(ShellQuote.quote(failure.connector))", "certstore connector set \(ShellQuote.quote(failure.connector)) --protocol-logging Verbose"])
            }
            var matchedBy = Diagnosis.MatchedBy.none
            var candidates: [StoreEntry] = []
            // A logged thumbprint names exactly one certificate: when it is not in the store, another certificate
            // with the same names (its renewed twin, say) is not the one that failed.
            let loggedThumbprint = logged.thumbprint.flatMap { try? Thumbprint(parsing: $0) }
            if let thumbprint = loggedThumbprint {
                candidates = all.filter { $0.thumbprint == thumbprint }
                if !candidates.isEmpty { matchedBy = .thumbprint }
            }
            if candidates.isEmpty, loggedThumbprint == nil, let serial = logged.serialNumber, let issuer = logged.issuer {
                candidates = all.filter {
                    $0.properties.serialNumber.caseInsensitiveCompare(serial) == .orderedSame
                        && DistinguishedName.normalize($0.properties.issuerString) == DistinguishedName.normalize(issuer)
                }
                if !candidates.isEmpty { matchedBy = .serialAndIssuer }
            }
            if candidates.isEmpty, loggedThumbprint == nil, let subject = logged.subject {
                candidates = all.filter {
                    DistinguishedName.normalize($0.properties.subjectString) == DistinguishedName.normalize(subject)
                        && (logged.issuer == nil || DistinguishedName.normalize($0.properties.issuerString) == DistinguishedName.normalize(logged.issuer!))
                }
                if !candidates.isEmpty { matchedBy = .issuerAndSubject }
            }
            let personal = candidates.filter { $0.store.name == .my }
            let entry: StoreEntry? = matchedBy == .issuerAndSubject
                ? (personal.first { !$0.hasPrivateKey } ?? personal.first ?? candidates.first)
                : (personal.first ?? candidates.first)
            guard let entry else {
                let trashed = loggedThumbprint.flatMap { t in trash.last { $0.thumbprint == t } }
                let twins = all.filter { candidate in
                    logged.subject.map { DistinguishedName.normalize(candidate.properties.subjectString) == DistinguishedName.normalize($0) } ?? false
                }
                var explanation = "the certificate \(logged.thumbprint ?? logged.subject ?? "?") is not in this store"
                if let trashed { explanation += "; it was removed at \(trashed.removedAt.formatted(.iso8601)) (trash entry \(trashed.id))" }
                else { explanation += ": the log may come from another server, or the certificate was deleted" }
                if !twins.isEmpty {
                    explanation += "; certificates with the same subject are in the store now: "
                        + twins.map { "\($0.thumbprint) (HasPrivateKey \($0.hasPrivateKey ? "True" : "False"))" }.joined(separator: ", ")
                }
                return Diagnosis(cause: .notInStore, matchedBy: .none, entry: nil, candidates: twins, trashed: trashed,
                                 explanation: explanation,
                                 fix: ["certstore connector resolve \(ShellQuote.quote(failure.connector))"])
            }
            let twins = all.filter {
                $0.store.name == .my && $0.thumbprint != entry.thumbprint
                    && DistinguishedName.normalize($0.properties.subjectString) == DistinguishedName.normalize(entry.properties.subjectString)
                    && DistinguishedName.normalize($0.properties.issuerString) == DistinguishedName.normalize(entry.properties.issuerString)
            }
            let keyedTwin = twins.first(where: \.hasPrivateKey)
            let name = "\(entry.thumbprint) (\(entry.properties.subjectString)) in \(entry.store)"
            switch entry.keyStatus {
            case .missing:
                var fix = ["certstore list --thumbprint \(entry.thumbprint) --property thumbprint,hasprivatekey"]
                if let keyedTwin {
                    // The same order as audit's plan: the twin is enabled first, then the keyless one goes.
                    if !bindings.thumbprints(for: .smtp).contains(keyedTwin.thumbprint) {
                        fix.append("certstore enable \(keyedTwin.thumbprint) --services SMTP --keep-default")
                    }
                    fix.append("certstore remove \(entry.thumbprint)")
                }
                return Diagnosis(cause: .keyMissing, matchedBy: matchedBy, entry: entry, candidates: twins, trashed: nil,
                                 explanation: "KB 4495258: the certificate used for outbound TLS, \(name), has no private key"
                                    + (keyedTwin.map { "; its renewed twin \($0.thumbprint) has one and takes over once the keyless certificate is removed" }
                                       ?? "; no twin with a key is in the store: import the renewed certificate with its key (a PKCS#12), or the lost key file"),
                                 fix: fix)
            case .unreadable, .mismatched, .inconsistent:
                return Diagnosis(cause: .keyUnusable, matchedBy: matchedBy, entry: entry, candidates: twins, trashed: nil,
                                 explanation: "the certificate \(name) has a key file, but it is \(entry.keyStatus.rawValue.lowercased()); importing the right key re-links it",
                                 fix: ["certstore show \(entry.thumbprint)"])
            case .present:
                if !bindings.thumbprints(for: .smtp).contains(entry.thumbprint) {
                    return Diagnosis(cause: .smtpNotEnabled, matchedBy: matchedBy, entry: entry, candidates: twins, trashed: nil,
                                     explanation: "KB 4051498: \(name) has its key but is not enabled for SMTP, so the transport service may not use the key (\(failure.error))",
                                     fix: ["certstore enable \(entry.thumbprint) --services SMTP --keep-default"])
                }
                return Diagnosis(cause: .keyPresentNow, matchedBy: matchedBy, entry: entry, candidates: twins, trashed: nil,
                                 explanation: "\(name) has a usable key in the store and is enabled for SMTP: either the store was fixed after this failure, or the mail service's account cannot read the key file",
                                 fix: ["certstore audit"])
            }
        }
    }
}
