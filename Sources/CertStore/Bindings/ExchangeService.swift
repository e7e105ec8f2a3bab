/// Exchange's `AllowedServices` flags, in the order of the 7-character `Services` mask (`IPUWSFC`).
public enum ExchangeService: String, Sendable, CaseIterable, Codable, Comparable {
    case imap = "IMAP"
    case pop = "POP"
    case um = "UM"
    case iis = "IIS"
    case smtp = "SMTP"
    case federation = "Federation"
    case umCallRouter = "UMCallRouter"

    /// The services a Linux server can bind: mail submission/relay, web, and the mailbox protocols.
    public static let bindable: [ExchangeService] = [.smtp, .iis, .imap, .pop]

    /// The letter in the `Services` mask (`W` for IIS, `C` for UMCallRouter).
    public var maskLetter: Character {
        switch self {
        case .imap: "I"
        case .pop: "P"
        case .um: "U"
        case .iis: "W"
        case .smtp: "S"
        case .federation: "F"
        case .umCallRouter: "C"
        }
    }

    /// Exchange's `ServicesStringForm`: e.g. IMAP, POP, IIS and SMTP give `IP.WS..`.
    public static func mask(_ services: Set<ExchangeService>) -> String {
        String(allCases.map { services.contains($0) ? $0.maskLetter : "." })
    }

    /// Parses `SMTP,IIS` (case-insensitive; `WEB` and `HTTP` are accepted for IIS, `IMAP4`/`POP3` too).
    public static func parseList(_ text: String) throws -> [ExchangeService] {
        var result: [ExchangeService] = []
        for raw in text.split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces).uppercased()
            if name.isEmpty { continue }
            let service: ExchangeService
            switch name {
            case "SMTP": service = .smtp
            case "IIS", "WEB", "HTTP", "HTTPS": service = .iis
            case "IMAP", "IMAP4": service = .imap
            case "POP", "POP3": service = .pop
            case "NONE": continue
            case "UM", "UMCALLROUTER", "FEDERATION":
                throw CertStoreError.usage("the \(raw) service does not exist on a Linux server",
                                           hint: "bindable services are SMTP, IIS, IMAP and POP")
            default:
                throw CertStoreError.usage("unknown service \"\(raw)\"", hint: "bindable services are SMTP, IIS, IMAP and POP")
            }
            if !result.contains(service) { result.append(service) }
        }
        guard !result.isEmpty else { throw CertStoreError.usage("no service named", hint: "for example --services SMTP,IIS") }
        return result
    }

    public static func < (lhs: ExchangeService, rhs: ExchangeService) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

import Foundation
