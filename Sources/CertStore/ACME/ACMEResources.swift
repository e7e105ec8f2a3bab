import Foundation

/// The objects an ACME server sends (RFC 8555 §7.1), with the fields certstore uses.
enum ACME {
    /// §7.1.1.
    struct Directory: Decodable, Sendable {
        let newNonce: String
        let newAccount: String
        let newOrder: String
        let revokeCert: String
        let keyChange: String?
        /// RFC 9773 (ACME Renewal Information); Pebble 2.4 has none.
        let renewalInfo: String?
        let meta: Meta?

        struct Meta: Decodable, Sendable {
            let termsOfService: String?
        }
    }

    /// §7.1.2.
    struct Account: Decodable, Sendable {
        let status: String
        let contact: [String]?
    }

    struct Identifier: Codable, Sendable, Equatable {
        let type: String
        let value: String
        static func dns(_ name: String) -> Identifier { Identifier(type: "dns", value: name) }
    }

    /// §7.1.3.
    struct Order: Decodable, Sendable {
        let status: String
        let identifiers: [Identifier]
        let authorizations: [String]
        let finalize: String
        let certificate: String?
        let error: Problem?
    }

    /// §7.1.4.
    struct Authorization: Decodable, Sendable {
        let status: String
        let identifier: Identifier
        let challenges: [Challenge]
        let wildcard: Bool?
    }

    /// §7.1.5 / §8.
    struct Challenge: Decodable, Sendable {
        let type: String
        let url: String
        let status: String
        let token: String?
        let error: Problem?
    }

    /// RFC 7807 problem document (§6.7).
    struct Problem: Decodable, Sendable, CustomStringConvertible {
        let type: String?
        let detail: String?
        let subproblems: [Subproblem]?

        struct Subproblem: Decodable, Sendable {
            let type: String?
            let detail: String?
            let identifier: Identifier?
        }

        /// `badNonce`, `unauthorized`, ... (the part after `urn:ietf:params:acme:error:`).
        var code: String { (type ?? "").replacingOccurrences(of: "urn:ietf:params:acme:error:", with: "") }

        var description: String {
            var text = "\(code.isEmpty ? "error" : code): \(detail ?? "no detail")"
            for sub in subproblems ?? [] {
                text += "; \(sub.identifier?.value ?? "?"): \(sub.detail ?? sub.type ?? "")"
            }
            return text
        }
    }

    // Requests.

    struct NewAccountRequest: Encodable {
        let termsOfServiceAgreed: Bool
        let contact: [String]?
        let onlyReturnExisting: Bool?
    }

    struct NewOrderRequest: Encodable {
        let identifiers: [Identifier]
        /// RFC 9773 §5: the certificate identifier of the certificate this order replaces (servers with renewalInfo).
        let replaces: String?
    }

    struct FinalizeRequest: Encodable {
        let csr: String
    }

    struct RevokeRequest: Encodable {
        let certificate: String
        let reason: Int?
    }
}
