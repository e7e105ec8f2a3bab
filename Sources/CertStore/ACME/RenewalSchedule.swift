import Foundation

/// When a certificate is due for renewal: the server's ACME Renewal Information window (RFC 9773) when it has one,
/// `--days N` when given, else once a third of its lifetime is left (certbot 4's rule).
public struct RenewalSchedule: Sendable, Equatable {
    /// Why the decision is what it is.
    public enum Basis: Sendable, Equatable {
        /// RFC 9773's suggested window, with the time chosen in it.
        case renewalInfo(start: Date, end: Date, chosen: Date)
        /// `--days N`: due when at most N days are left.
        case days(Int)
        /// A third of the lifetime left.
        case thirdOfLifetime
    }

    public let due: Bool
    /// The moment from which the certificate is due.
    public let dueFrom: Date
    public let basis: Basis

    /// The decision for a certificate valid from `notBefore` to `notAfter`, at `now`. `window` is the server's
    /// suggested window; RFC 9773 §4.2: a time is chosen uniformly at random inside it (`fraction` ∈ [0, 1]) and the
    /// certificate is due once that time has come. `days`, when given, overrides both other rules (a user's choice).
    public init(notBefore: Date, notAfter: Date, now: Date, days: Int? = nil,
                window: (start: Date, end: Date)? = nil, fraction: Double = Double.random(in: 0...1)) {
        if let days {
            dueFrom = notAfter.addingTimeInterval(-Double(days) * 86_400)
            basis = .days(days)
        } else if let window, window.end > window.start {
            let chosen = window.start.addingTimeInterval(window.end.timeIntervalSince(window.start) * min(max(fraction, 0), 1))
            dueFrom = chosen
            basis = .renewalInfo(start: window.start, end: window.end, chosen: chosen)
        } else if let window {
            // A window whose end is not after its start: RFC 9773 says to treat it as invalid; its start is used.
            dueFrom = window.start
            basis = .renewalInfo(start: window.start, end: window.start, chosen: window.start)
        } else {
            dueFrom = notAfter.addingTimeInterval(-notAfter.timeIntervalSince(notBefore) / 3)
            basis = .thirdOfLifetime
        }
        due = now >= dueFrom
    }

    /// RFC 9773 §4.1: base64url(the AKI's keyIdentifier) "." base64url(the serial number's DER content octets).
    public static func certificateIdentifier(authorityKeyIdentifier: [UInt8], serialNumber: [UInt8]) -> String {
        Base64URL.encode(authorityKeyIdentifier) + "." + Base64URL.encode(serialNumber)
    }

    /// Human words for the decision.
    public var explanation: String {
        let when = dueFrom.formatted(.iso8601)
        switch basis {
        case .renewalInfo(let start, let end, _):
            return "the CA's renewal window \(start.formatted(.iso8601)) – \(end.formatted(.iso8601)) (RFC 9773); due from \(when)"
        case .days(let days):
            return "--days \(days): due from \(when)"
        case .thirdOfLifetime:
            return "a third of its lifetime left: due from \(when)"
        }
    }
}
