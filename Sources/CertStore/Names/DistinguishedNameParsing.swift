/// Reading a subject typed in the Windows form, as `New-ExchangeCertificate -SubjectName` (an
/// `X500DistinguishedName` built with its default, `Reversed`) reads it.
extension DistinguishedName {
    /// Parses `CN=mail.contoso.com, O=Contoso, C=US`: RDNs separated by `,` or `;`, the attributes of a
    /// multi-valued RDN by `+`, values in double quotes when they hold separators (`""` is a quote inside
    /// them), white space around names and values ignored. Names are Windows' labels (`CN OU O L S C E STREET
    /// SERIALNUMBER SN PostalCode Phone POBox DC G I T Description X21Address dnQualifier`, case-insensitive;
    /// `ST` for `S`), `OID.2.5.4.15` or a bare dotted OID.
    ///
    /// The most specific RDN is written first and encoded last (Windows' order), so the name formats back to
    /// what was typed: `DistinguishedName(windowsForm: s).windowsString` is `s` with Windows' labels, spacing
    /// and quoting.
    public init(windowsForm text: String) throws {
        let hint = "write the subject as Windows shows it, e.g. \"CN=mail.contoso.com, O=Contoso Ltd, C=US\"; quote a value that holds , + ; or \" (\"\" inside quotes)"
        func failure(_ message: String) -> CertStoreError { CertStoreError.usage("invalid subject \"\(text)\": \(message)", hint: hint) }
        var typed: [[NameAttribute]] = [[]]
        let characters = Array(text)
        var index = 0
        func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }
        while true {
            skipSpaces()
            guard index < characters.count else {
                if typed.count == 1 && typed[0].isEmpty { throw failure("it is empty") }
                throw failure("it ends with a separator")
            }
            // The attribute's name, up to `=`.
            var label = ""
            while index < characters.count, characters[index] != "=" {
                if ",;+\"".contains(characters[index]) { throw failure("\"\(label)\(characters[index])\" is not NAME=value") }
                label.append(characters[index])
                index += 1
            }
            label = label.trimmingCharacters(in: .whitespaces)
            guard index < characters.count else { throw failure("\"\(label)\" has no =value") }
            index += 1   // "="
            guard let oid = Self.oid(forLabel: label) else {
                throw CertStoreError.usage("invalid subject \"\(text)\": unknown attribute name \"\(label)\"",
                                           hint: "use CN, OU, O, L, S, C, E, STREET, SERIALNUMBER, SN, PostalCode, Phone, POBox, DC, G, I, T, Description, X21Address, dnQualifier, or OID.n.n.n")
            }
            let name = Self.label(forOID: oid)
            skipSpaces()
            var value = ""
            if index < characters.count, characters[index] == "\"" {
                index += 1
                var closed = false
                while index < characters.count {
                    if characters[index] == "\"" {
                        if index + 1 < characters.count, characters[index + 1] == "\"" { value.append("\""); index += 2; continue }
                        index += 1
                        closed = true
                        break
                    }
                    value.append(characters[index])
                    index += 1
                }
                guard closed else { throw failure("the quoted value of \(name) has no closing \"") }
                skipSpaces()
                if index < characters.count, !",;+".contains(characters[index]) {
                    throw failure("text after the quoted value of \(name)")
                }
            } else {
                while index < characters.count, !",;+".contains(characters[index]) {
                    if characters[index] == "\"" || characters[index] == "=" {
                        throw failure("the value of \(name) holds \(characters[index]); put the value in double quotes")
                    }
                    value.append(characters[index])
                    index += 1
                }
                value = value.trimmingCharacters(in: .whitespaces)
            }
            try Self.validate(value, oid: oid, name: name, failure: failure)
            typed[typed.count - 1].append(NameAttribute(oid: oid, value: value))
            guard index < characters.count else { break }
            let separator = characters[index]
            index += 1
            if separator != "+" { typed.append([]) }
        }
        self.init(typed.reversed())
    }

    private static func validate(_ value: String, oid: String, name: String, failure: (String) -> CertStoreError) throws {
        guard !value.isEmpty else { throw failure("\(name) has an empty value") }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw failure("the value of \(name) holds a control character")
        }
        switch oid {
        case "2.5.4.6":
            guard value.utf8.count == 2, value.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw failure("C must be a two-letter country code (ISO 3166), not \"\(value)\"")
            }
        case "1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25":
            guard value.utf8.allSatisfy({ $0 < 0x80 }) else { throw failure("\(name) must be ASCII (an IA5String)") }
        default:
            break
        }
    }

    /// The OID of a Windows label (case-insensitive; `ST` too), of `OID.n.n` or of a bare dotted OID.
    static func oid(forLabel label: String) -> String? {
        if label.caseInsensitiveCompare("ST") == .orderedSame { return "2.5.4.8" }
        if let found = labels.first(where: { $0.value.caseInsensitiveCompare(label) == .orderedSame }) { return found.key }
        var dotted = Substring(label)
        if label.uppercased().hasPrefix("OID.") { dotted = dotted.dropFirst(4) }
        let arcs = dotted.split(separator: ".", omittingEmptySubsequences: false)
        guard arcs.count >= 2, arcs.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
              let first = arcs.first, ["0", "1", "2"].contains(String(first)) else { return nil }
        return String(dotted)
    }

    /// Does `value` fit PrintableString's alphabet (`A-Z a-z 0-9 space ' ( ) + , - . / : = ?`)?
    static func isPrintableString(_ value: String) -> Bool {
        value.utf8.allSatisfy { byte in
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: true
            case UInt8(ascii: " "), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "+"), UInt8(ascii: ","),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: "?"): true
            default: false
            }
        }
    }
}

import Foundation
