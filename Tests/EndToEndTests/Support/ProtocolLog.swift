import Foundation

/// An Exchange SMTP send protocol log, written the way Exchange writes it: the `#` header with
/// `#Fields:`, CSV rows (fields with commas or quotes quoted, quotes doubled), CRLF line endings.
struct ProtocolLog {
    static let fields = "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"

    /// What a session logs about its certificate before the handshake.
    struct Certificate {
        var subject: String?
        var issuer: String?
        var serial: String?
        var thumbprint: String?
        var alternateNames: [String] = []
    }

    enum Form {
        /// `Sending certificate` then five `Certificate …` rows (the row for each nil value is left out).
        case sixRows
        /// The newer single row: data = `<Subject> <Issuer> <Serial> <Thumbprint> <NotBefore> <NotAfter> <Domains>`.
        case singleRow
    }

    private(set) var lines: [String]
    private var clock = 0
    private var sessionCounter = 0

    /// `firstSession` numbers the session ids, so logs of one test never share a session id.
    init(header: Bool = true, firstSession: Int = 1) {
        sessionCounter = firstSession - 1
        lines = header ? ["#Software: Microsoft Exchange Server", "#Version: 15.0.0.0", "#Log-type: SMTP Send Protocol Log",
                          "#Date: 2026-11-28T09:00:02.511Z", "#Fields: " + Self.fields] : []
    }

    /// The 1-based line number the next appended line gets.
    var nextLine: Int { lines.count + 1 }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private mutating func timestamp() -> String {
        clock += 1
        let ms = clock % 1000, s = (clock / 1000) % 60, m = (clock / 60_000) % 60, h = 9 + clock / 3_600_000
        return String(format: "2026-11-28T%02d:%02d:%02d.%03dZ", h, m, s, ms)
    }

    /// Appends one data row; returns its line number.
    @discardableResult
    mutating func row(connector: String, session: String, sequence: Int, event: String, data: String = "", context: String = "") -> Int {
        let line = nextLine
        lines.append([timestamp(), connector, session, String(sequence), "192.168.0.78:28252", "104.47.2.36:25", event, data, context]
            .map(Self.quote).joined(separator: ","))
        return line
    }

    /// Appends a line as is (for malformed lines); returns its line number.
    @discardableResult
    mutating func raw(_ text: String) -> Int {
        lines.append(text)
        return lines.count
    }

    /// A fresh session id, 16 hex digits like Exchange's.
    mutating func newSession() -> String {
        sessionCounter += 1
        return String(format: "08DE2F1A%08X", sessionCounter)
    }

    /// Appends a whole outbound session: connect, EHLO, STARTTLS, the certificate (when given), then the TLS
    /// failure (when `error` is given) or a successful handshake, and the disconnect.
    /// Returns the line number of the failure row (or nil) and the number of rows written.
    @discardableResult
    mutating func session(connector: String, certificate: Certificate? = nil, form: Form = .sixRows, error: String? = nil,
                          padTo rows: Int? = nil) -> (failureLine: Int?, rows: Int) {
        let id = newSession()
        let start = lines.count
        var seq = 0
        func add(_ event: String, _ data: String = "", _ context: String = "") {
            row(connector: connector, session: id, sequence: seq, event: event, data: data, context: context)
            seq += 1
        }
        add("*", "SendRoutingHeaders", "Set Session Permissions")
        add("*", "", "attempting to connect")
        add("+")
        add("<", "220 contoso-com.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Sat, 28 Nov 2026 09:14:44 +0000")
        add(">", "EHLO mail.contoso.com")
        add("<", "250-contoso-com.mail.protection.outlook.com Hello [198.51.100.10]")
        add("<", "250 STARTTLS")
        add(">", "STARTTLS")
        add("<", "220 2.0.0 SMTP server ready")
        if let c = certificate {
            switch form {
            case .sixRows:
                add("*", "", "Sending certificate")
                if let v = c.subject { add("*", v, "Certificate subject") }
                if let v = c.issuer { add("*", v, "Certificate issuer name") }
                if let v = c.serial { add("*", v, "Certificate serial number") }
                if let v = c.thumbprint { add("*", v, "Certificate thumbprint") }
                add("*", c.alternateNames.joined(separator: ";"), "Certificate alternate names")
            case .singleRow:
                let parts = [c.subject, c.issuer, c.serial, c.thumbprint].compactMap { $0 }
                    + ["2026-11-15T00:00:00.000Z", "2027-12-15T00:00:00.000Z", c.alternateNames.joined(separator: ";")]
                add("*", parts.joined(separator: " "), "Sending certificate")
            }
        }
        var failureLine: Int? = nil
        if let error {
            failureLine = nextLine
            add("*", "", "TLS negotiation failed with error \(error)")
        } else {
            add("*", "", "Received certificate")
            add(">", "EHLO mail.contoso.com")
            add("<", "250 SIZE 157286400")
        }
        if let rows {
            while lines.count - start < rows - 1 { add("<", "250-PIPELINING") }
        }
        add("-", "", "Local")
        return (failureLine, lines.count - start)
    }

    var text: String { lines.joined(separator: "\r\n") + "\r\n" }

    @discardableResult
    func write(to url: URL) throws -> URL {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url
    }
}
