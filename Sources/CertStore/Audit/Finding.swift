/// How bad a finding is, with the monitoring-plugin exit codes.
public enum Severity: Int, Sendable, Codable, Comparable, CaseIterable {
    case ok = 0
    case warning = 1
    case critical = 2
    case unknown = 3

    public var name: String {
        switch self {
        case .ok: "OK"
        case .warning: "WARNING"
        case .critical: "CRITICAL"
        case .unknown: "UNKNOWN"
        }
    }

    /// Monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    public var exitCode: Int32 { Int32(rawValue) }

    /// CRITICAL outranks UNKNOWN outranks WARNING outranks OK (what the overall status is).
    public var rank: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .unknown: 2
        case .critical: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One thing the audit found: what, about which object, why it matters, and the commands that fix it.
public struct Finding: Sendable, Codable, Equatable {
    public let severity: Severity
    /// A stable identifier of the check, e.g. `connector-keyless-certificate`.
    public let check: String
    /// What it concerns: a thumbprint, `connector:NAME`, a file path, `location`.
    public let object: String
    public let title: String
    public let detail: String
    /// Complete commands that fix it, in order: each works pasted into a shell as it is (no placeholders;
    /// what needs a file only the admin has is said in `detail` instead).
    public let fix: [String]

    public init(_ severity: Severity, check: String, object: String, title: String, detail: String, fix: [String] = []) {
        self.severity = severity
        self.check = check
        self.object = object
        self.title = title
        self.detail = detail
        self.fix = fix
    }
}
