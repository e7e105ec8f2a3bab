import Foundation

/// The kinds of log `diagnose` reads, told apart by their first lines.
public enum LogFormat: String, Sendable, Codable, CaseIterable {
    /// Exchange SMTP send/receive protocol log: `#Fields:` header, CSV rows.
    case exchangeProtocolLog
    /// syslog file (rsyslog's RFC 3339 `RSYSLOG_FileFormat`, Debian 12's `/var/log/mail.log`, or the traditional
    /// `Mmm dd hh:mm:ss host prog[pid]: message`), `journalctl -o short`/`short-iso`/`short-iso-precise`
    /// output, and postfix's own `maillog_file`.
    case syslog
    /// Dovecot's own `log_path` file: `Mmm dd hh:mm:ss process: Level: message`, no host.
    case dovecotLog
    /// Exim's `mainlog` (Debian: /var/log/exim4/mainlog): `yyyy-mm-dd hh:mm:ss [pid] message`.
    case eximMainlog

    /// How the summary and `--format json` name it.
    public var label: String {
        switch self {
        case .exchangeProtocolLog: "Exchange protocol log"
        case .syslog: "syslog"
        case .dovecotLog: "dovecot log"
        case .eximMainlog: "exim mainlog"
        }
    }

    /// What diagnose expects, for the error about a file in no known format.
    static let expected = "an Exchange SMTP protocol log (#Fields: header, CSV rows), a syslog file such as /var/log/mail.log "
        + "(RFC 3339 or \"Mmm dd hh:mm:ss\" timestamps), journalctl -o short or short-iso output, postfix's maillog_file, "
        + "dovecot's log_path file or exim's mainlog"

    /// The format of a file, from its first non-blank lines: the first one that is a line of a known format
    /// decides. Nil for an empty (or blank) file.
    static func detect(_ url: URL) throws -> LogFormat? {
        let head = try LineStream.head(url, count: 50)
        var sawContent = false
        for raw in head {
            var line = raw
            if line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.hasSuffix("\r") { line.removeLast() }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            sawContent = true
            if line.hasPrefix("#Software: Microsoft Exchange") || line.hasPrefix("#Fields:") || line.hasPrefix("#Log-type:") {
                return .exchangeProtocolLog
            }
            if MailLogLine.isJournalMarker(line) { continue }
            if let parsed = MailLogLine.parse(line) { return parsed.format }
            if let values = ProtocolLogReader.csvValues(line), values.count == ProtocolLogReader.standardFields.count,
               MailLogLine.isISODate(values[0]) {
                return .exchangeProtocolLog
            }
        }
        guard sawContent else { return nil }
        let first = head.first { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        throw CertStoreError(.badData, "\(url.path) is in no log format certstore reads (line 1: \"\(first.prefix(80))\")",
                             hint: "diagnose reads \(expected)")
    }
}

/// One line of a syslog-style mail log, split into its parts.
struct MailLogLine: Equatable {
    var format: LogFormat
    var timestamp: String
    var host: String?
    /// `postfix/smtpd`, `dovecot`, `exim`; dovecot's own file gives `dovecot` with the process in the message.
    var program: String
    var pid: String?
    var message: String

    static let months: Set<Substring> = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// journalctl's own lines (`-- Boot …`, `-- No entries --`, `-- Logs begin at …`): neither data nor malformed.
    static func isJournalMarker(_ line: String) -> Bool { line.hasPrefix("-- ") }

    static func parse(_ line: String) -> MailLogLine? {
        let bytes = Array(line.utf8)
        // `Mmm dd hh:mm:ss ` (syslog traditional, journalctl short, postlogd, dovecot): 16 bytes.
        if bytes.count > 16, months.contains(Substring(line.prefix(3))), bytes[3] == 0x20,
           isDigitOrSpace(bytes[4]), isDigit(bytes[5]), bytes[6] == 0x20, isClock(bytes, at: 7), bytes[15] == 0x20 {
            let timestamp = String(line.prefix(15))
            let rest = line.dropFirst(16)
            return syslogTail(rest, timestamp: timestamp, format: .syslog) ?? dovecotTail(rest, timestamp: timestamp)
        }
        // RFC 3339 (rsyslog's default, journalctl short-iso and short-iso-precise): `2026-12-03T12:45:45[.ffffff](Z|±hh[:]mm) `.
        if bytes.count > 20, isDate(bytes), bytes[10] == UInt8(ascii: "T"), isClock(bytes, at: 11) {
            guard let space = line.firstIndex(of: " ") else { return nil }
            let timestamp = String(line[..<space])
            guard isISODate(timestamp) else { return nil }
            return syslogTail(line[line.index(after: space)...], timestamp: timestamp, format: .syslog)
        }
        // Exim mainlog: `2026-12-03 12:48:05 [pid] message` (the pid only with log_selector +pid; fractions and a zone
        // with +millisec / log_timezone).
        if bytes.count > 20, isDate(bytes), bytes[10] == 0x20, isClock(bytes, at: 11) {
            var rest = line.dropFirst(19)
            var timestamp = String(line.prefix(19))
            if rest.hasPrefix("."), let end = rest.firstIndex(of: " ") {
                timestamp += rest[..<end]
                rest = rest[end...]
            }
            guard rest.hasPrefix(" ") else { return nil }
            rest = rest.dropFirst()
            if let zone = rest.split(separator: " ", maxSplits: 1).first, zone.count == 5, zone.first == "+" || zone.first == "-",
               zone.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
                timestamp += " " + zone
                rest = rest.dropFirst(6)
            }
            var pid: String? = nil
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"),
               rest[rest.index(after: rest.startIndex)..<close].allSatisfy({ $0.isASCII && $0.isNumber }) {
                pid = String(rest[rest.index(after: rest.startIndex)..<close])
                rest = rest[rest.index(after: close)...].drop { $0 == " " }
            }
            return MailLogLine(format: .eximMainlog, timestamp: timestamp, host: nil, program: "exim", pid: pid, message: String(rest))
        }
        return nil
    }

    /// `host prog[pid]: message` (or `host prog: message`).
    private static func syslogTail(_ rest: Substring, timestamp: String, format: LogFormat) -> MailLogLine? {
        let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[0].hasSuffix(":") else { return nil }
        let host = String(parts[0])
        let tail = parts[1]
        guard let colon = tail.range(of: ": ") ?? (tail.hasSuffix(":") ? tail.index(before: tail.endIndex)..<tail.endIndex : nil)
        else { return nil }
        var tag = tail[..<colon.lowerBound]
        guard !tag.isEmpty, !tag.contains(" ") else { return nil }
        var pid: String? = nil
        if tag.hasSuffix("]"), let open = tag.lastIndex(of: "[") {
            pid = String(tag[tag.index(after: open)..<tag.index(before: tag.endIndex)])
            tag = tag[..<open]
        }
        return MailLogLine(format: format, timestamp: timestamp, host: host, program: String(tag), pid: pid,
                           message: String(tail[colon.upperBound...]))
    }

    /// Dovecot's own file: `imap-login: Info: message` straight after the timestamp.
    private static func dovecotTail(_ rest: Substring, timestamp: String) -> MailLogLine? {
        guard let colon = rest.range(of: ": ") else { return nil }
        let process = rest[..<colon.lowerBound]
        guard !process.isEmpty, !process.contains(" ") else { return nil }
        var message = rest
        // The level word after the process is part of a syslog line's message only for warnings and worse:
        // drop `Info: ` so both forms read alike.
        if rest[colon.upperBound...].hasPrefix("Info: ") {
            message = rest[..<colon.upperBound] + rest[colon.upperBound...].dropFirst("Info: ".count)
        }
        return MailLogLine(format: .dovecotLog, timestamp: timestamp, host: nil, program: "dovecot", pid: nil, message: String(message))
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isDigitOrSpace(_ b: UInt8) -> Bool { isDigit(b) || b == 0x20 }
    /// `hh:mm:ss` at `i`.
    private static func isClock(_ b: [UInt8], at i: Int) -> Bool {
        b.count >= i + 8 && isDigit(b[i]) && isDigit(b[i + 1]) && b[i + 2] == 0x3A && isDigit(b[i + 3]) && isDigit(b[i + 4])
            && b[i + 5] == 0x3A && isDigit(b[i + 6]) && isDigit(b[i + 7])
    }
    /// `yyyy-mm-dd` at the start.
    private static func isDate(_ b: [UInt8]) -> Bool {
        b.count >= 10 && (0..<4).allSatisfy { isDigit(b[$0]) } && b[4] == 0x2D && isDigit(b[5]) && isDigit(b[6]) && b[7] == 0x2D
            && isDigit(b[8]) && isDigit(b[9])
    }

    /// `yyyy-mm-ddThh:mm:ss[.fff][Z|±hh:mm|±hhmm]` (Exchange's date-time field, rsyslog, journalctl).
    static func isISODate(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count >= 19, isDate(b), b[10] == UInt8(ascii: "T"), isClock(b, at: 11) else { return false }
        var i = 19
        if i < b.count, b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            guard i > start else { return false }
        }
        if i == b.count { return true }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count }
        guard b[i] == 0x2B || b[i] == 0x2D else { return false }
        let zone = b[(i + 1)...].filter { $0 != 0x3A }
        return zone.count == 4 && zone.allSatisfy(isDigit)
    }
}
