/// A send connector's `TLSCertificateName`: `<I>issuer<S>subject`, the issuer optional.
///
/// Exchange parses it with `^(<I>([^<]+))?(<S>(.+))` (tags case-insensitive) and requires a `CN=` in the
/// subject; the same rules apply here, and names compare case-insensitively after normalising spacing.
public struct TLSCertificateName: Sendable, Equatable, CustomStringConvertible {
    public let issuer: String?
    public let subject: String

    public init(issuer: String?, subject: String) {
        self.issuer = issuer
        self.subject = subject
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let syntax = "the correct syntax is <I>X.500 issuer<S>X.500 subject, e.g. <I>CN=Contoso Issuing CA 1, O=Contoso Ltd, C=US<S>CN=mail.contoso.com"
        var rest = Substring(trimmed)
        var issuer: String? = nil
        if rest.lowercased().hasPrefix("<i>") {
            rest = rest.dropFirst(3)
            guard let end = rest.range(of: "<S>", options: .caseInsensitive) else {
                throw CertStoreError.usage("invalid TLSCertificateName \"\(text)\": no <S> subject", hint: syntax)
            }
            let value = rest[..<end.lowerBound]
            guard !value.isEmpty, !value.contains("<") else {
                throw CertStoreError.usage("invalid TLSCertificateName \"\(text)\": the issuer is empty or contains <", hint: syntax)
            }
            issuer = String(value)
            rest = rest[end.upperBound...]
        } else if rest.lowercased().hasPrefix("<s>") {
            rest = rest.dropFirst(3)
        } else {
            throw CertStoreError.usage("invalid TLSCertificateName \"\(text)\": it must start with <I> or <S>", hint: syntax)
        }
        guard !rest.isEmpty else { throw CertStoreError.usage("invalid TLSCertificateName \"\(text)\": the subject is empty", hint: syntax) }
        guard DistinguishedName.normalize(String(rest)).contains("cn=") else {
            throw CertStoreError.usage("invalid TLSCertificateName \"\(text)\": the subject has no CN=", hint: syntax)
        }
        self.init(issuer: issuer, subject: String(rest))
    }

    /// The form Exchange stores, with upper-case tags.
    public var description: String { (issuer.map { "<I>\($0)" } ?? "") + "<S>\(subject)" }

    /// Built from a certificate, as admins do: `"<I>$($cert.Issuer)<S>$($cert.Subject)"`.
    public init(certificate properties: CertificateProperties) {
        self.init(issuer: properties.issuerString, subject: properties.subjectString)
    }

    /// Does this name select a certificate with these subject and issuer strings (case-insensitive)?
    public func matches(subject other: String, issuer otherIssuer: String) -> Bool {
        guard DistinguishedName.normalize(subject) == DistinguishedName.normalize(other) else { return false }
        guard let issuer else { return true }
        return DistinguishedName.normalize(issuer) == DistinguishedName.normalize(otherIssuer)
    }
}

extension DistinguishedName {
    /// A comparison key for a Windows-form DN string: RDNs split outside quotes, spaces around separators
    /// and `=` dropped, lower-cased. `CN=a,O="b, c"` and `cn=A, o="B, C"` give the same key.
    public static func normalize(_ text: String) -> String {
        var parts: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if !quoted && (character == "," || character == "+") {
                parts.append(current)
                parts.append(String(character))
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts.map { part -> String in
            if part == "," || part == "+" { return part }
            let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return pieces.joined(separator: "=")
        }.joined().lowercased()
    }
}

import Foundation
