import Foundation

/// The configuration that points a daemon at the service files certstore maintains, planned against the daemon's
/// live configuration so that it never weakens what is configured.
///
/// Three steps, each usable on its own:
///
/// 1. ``readLive(_:config:)`` reads what the daemon is configured with now: `postconf -n -x`, `doveconf -n -P`,
///    `exim -bP …`, or the nginx/apache2/haproxy file the administrator names. When the daemon's tool is not
///    on the machine (or, without an explicit configuration, cannot read it) the result says which command was
///    tried and why it gave nothing.
/// 2. ``plan(_:store:live:)`` compares it with what the bindings require: the certificate and key parameters
///    name the service's `current` files, and no security level is weaker than certstore's minimum (postfix
///    `may`, dovecot `ssl = yes`, exim's STARTTLS advertised). A stricter level (`encrypt`, `dane`, `verify`,
///    `secure`, `fingerprint`, dovecot `ssl = required`) is kept and said to be kept.
/// 3. The ``Plan`` holds the lines that must change (``Plan/text``, the comments saying what was kept and why)
///    and every ``Drift`` between the live configuration and the requirement (``Plan/drifts``, for `--check`).
public enum ServiceConfig {
    /// A daemon certstore can configure.
    public enum Daemon: String, Sendable, CaseIterable, Codable {
        case postfix, dovecot, exim4, nginx, apache2, haproxy

        /// Parses a daemon's name, any case; `exim`, `apache` and `httpd` name exim4 and apache2.
        public init?(name: String) {
            switch name.lowercased() {
            case "exim": self = .exim4
            case "apache", "httpd": self = .apache2
            default:
                guard let daemon = Daemon(rawValue: name.lowercased()) else { return nil }
                self = daemon
            }
        }

        /// The bound service whose files the daemon reads.
        public var service: ExchangeService {
            switch self {
            case .postfix, .exim4: .smtp
            case .dovecot: .imap
            case .nginx, .apache2, .haproxy: .iis
            }
        }

        /// The daemons whose configuration certstore reads from a file the administrator names (`--config`):
        /// each holds one certificate per server block, and which block serves the bound one is their choice.
        public var readsNamedFile: Bool {
            switch self {
            case .nginx, .apache2, .haproxy: true
            case .postfix, .dovecot, .exim4: false
            }
        }
    }

    /// One setting as the live configuration holds it.
    public struct LiveSetting: Sendable, Equatable {
        public let name: String
        public let value: String
        /// Where it is, when that is not the top level: `line 12`, `protocol imap { }`.
        public let location: String?

        public init(name: String, value: String, location: String? = nil) {
            self.name = name
            self.value = value
            self.location = location
        }
    }

    /// A daemon's configuration as read.
    public struct LiveConfiguration: Sendable {
        public let daemon: Daemon
        /// What was read: the command line (shell-quoted) or the file.
        public let source: String
        public let settings: [LiveSetting]
        /// The configuration file, for the daemons read from a named file (nginx, apache2, haproxy).
        public let file: String?
        /// exim's macros (`exim -bP macros`, root only); nil when they could not be read or do not apply.
        public let macros: [String: String]?

        public init(daemon: Daemon, source: String, settings: [LiveSetting], file: String? = nil, macros: [String: String]? = nil) {
            self.daemon = daemon
            self.source = source
            self.settings = settings
            self.file = file
            self.macros = macros
        }

        /// Every occurrence of `name` (case-insensitive for apache2, whose directives are).
        public func all(_ name: String) -> [LiveSetting] {
            daemon == .apache2
                ? settings.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }
                : settings.filter { $0.name == name }
        }

        /// The top-level value of `name` (the last one wins, as in every daemon here), nil when absent.
        public func value(_ name: String) -> String? {
            all(name).last { $0.location == nil }?.value
        }
    }

    /// What reading the live configuration gave.
    public enum LiveState: Sendable {
        case read(LiveConfiguration)
        /// The daemon's tool is not on the machine, or could not read its configuration: `tried` is the command
        /// (or file), `reason` what happened.
        case unavailable(tried: String, reason: String)
    }

    /// One difference between the live configuration and what the bindings require.
    public struct Drift: Sendable, Equatable, Codable {
        /// The setting, as the daemon spells it (`smtpd_tls_chain_files`, `ssl_cert`, `SSLCertificateFile`).
        public let setting: String
        /// Its live value (with its place, when not the top level); nil when it is not set.
        public let live: String?
        /// What certstore requires.
        public let required: String
        /// Why the live value is not good enough, in words.
        public let reason: String
    }

    /// The lines for one daemon, and how its live configuration differs from what the bindings require.
    public struct Plan: Sendable {
        public let daemon: Daemon
        public let service: ExchangeService
        public let live: LiveState
        /// Comments and configuration lines, ready to print: only what must change when the live configuration
        /// was read, the full recommended lines when it could not be.
        public let lines: [String]
        /// Empty when the live configuration is in line (always empty when it could not be read).
        public let drifts: [Drift]

        public var text: String { lines.map { $0 + "\n" }.joined() }
        /// The configuration lines alone (no comments, no blank lines): what `postconf -e` takes.
        public var settingLines: [String] { lines.filter { !$0.isEmpty && !$0.hasPrefix("#") } }
    }

    /// Reads `daemon`'s live configuration: from `config` when given (postfix: the configuration directory,
    /// `postconf -c`; dovecot and exim4: the configuration file, `doveconf -c`, `exim -C`; nginx, apache2 and
    /// haproxy: the file holding the server block), else from the daemon's default.
    ///
    /// - Throws: `inputUnreadable` when `config` was given and cannot be read (a missing directory, a file
    ///   the tool refuses): the administrator asked for that configuration, so no fallback hides the mistake.
    public static func readLive(_ daemon: Daemon, config: String?) throws -> LiveState {
        try LiveConfigurationReader(daemon: daemon).read(config: config)
    }

    /// Plans `daemon`'s lines against `live`.
    public static func plan(_ daemon: Daemon, store: StoreLocation, live: LiveState) throws -> Plan {
        try ServiceConfigPlanner(daemon: daemon, store: store, live: live).plan()
    }

    /// main.cf comments that say how send connectors reach postfix (nothing when there is none): each connector
    /// has its own transport (`--master-cf`, ``PostfixTransports``) that its address spaces are routed to.
    static func connectorLines(_ connectors: [SendConnector]) -> [String] {
        guard !connectors.isEmpty else { return [] }
        return [
            "# Send connectors (\(connectors.count)): each has its own transport reading its own files. Add",
            "#   certstore service-config postfix --master-cf   to master.cf, write",
            "#   certstore service-config postfix --transport-map > /etc/postfix/certstore_transport",
            "# and route the connectors' address spaces through it:",
            "# transport_maps = texthash:/etc/postfix/certstore_transport",
        ]
    }
}
