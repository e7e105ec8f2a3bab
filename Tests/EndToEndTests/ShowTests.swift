import Foundation
import Testing

@Suite("show")
struct ShowTests {
    enum Spelling: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case uppercase, lowercase, spacesEveryTwoDigits, colons, leadingLeftToRightMark
        var testDescription: String { rawValue }

        func spell(_ thumbprint: String) -> String {
            let pairs = stride(from: 0, to: thumbprint.count, by: 2).map { i -> String in
                let start = thumbprint.index(thumbprint.startIndex, offsetBy: i)
                return String(thumbprint[start..<thumbprint.index(start, offsetBy: 2)])
            }
            switch self {
            case .uppercase: return thumbprint
            case .lowercase: return thumbprint.lowercased()
            case .spacesEveryTwoDigits: return pairs.joined(separator: " ").lowercased()
            case .colons: return pairs.joined(separator: ":")
            case .leadingLeftToRightMark: return "\u{200E}" + thumbprint
            }
        }
    }

    @Test("show accepts the thumbprint as admins paste it and prints every property", arguments: Spelling.allCases)
    func showThumbprintSpellings(_ spelling: Spelling) throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("show")
        try seedModernPFX(into: t, f)
        let argument = spelling.spell(f.leaf.thumbprint)
        let result = try certstore(expecting: 0, ["show", argument] + t.rootArgs)
        let records = parseListOutput(result.stdout)
        try #require(records.count == 1, "\(result)")
        let record = records[0]
        #expect(record["Thumbprint"] == f.leaf.thumbprint)
        #expect(record["HasPrivateKey"] == "True")
        #expect(record["SerialNumber"] == f.leafSerial)
        #expect(record["EnhancedKeyUsageList"]?.contains("Server Authentication (1.3.6.1.5.5.7.3.1)") == true, "\(result)")
        #expect(record["Subject"] == "CN=mail.contoso.com, O=Contoso Ltd, L=Redmond, S=Washington, C=US")
    }

    @Test("show of a well-formed thumbprint that is not in the store: exit 1")
    func showUnknownThumbprint() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("show404")
        try seedModernPFX(into: t, f)
        // A real certificate's thumbprint, just not one in this store.
        let result = try certstore(expecting: 1, ["show", f.selfSigned.thumbprint] + t.rootArgs)
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.contains("error:"), "\(result)")
        // The CA is in LocalMachine/CA, not My: not found in My.
        try certstore(expecting: 1, ["show", f.ca.thumbprint] + t.rootArgs)
        try certstore(expecting: 0, ["show", f.ca.thumbprint, "--store", "LocalMachine/CA"] + t.rootArgs)
    }

    @Test("show never treats its argument as a path: /etc/passwd and abc are usage errors (64)")
    func showRejectsNonThumbprints() throws {
        let f = try Fixtures.get()
        let t = try TestDirectory("showpath")
        try seedModernPFX(into: t, f)
        // A file named like the argument, holding a certificate, in the working directory: must not be read.
        try t.write("abc", try Data(contentsOf: f.leaf.certificate))
        let leafPEMName = "\(f.leaf.thumbprint).pem"
        try t.write(leafPEMName, try Data(contentsOf: f.leaf.certificate))
        for argument in ["/etc/passwd", "abc", "./abc", leafPEMName, String(f.leaf.thumbprint.dropLast())] {
            let result = try certstore(expecting: 64, ["show", argument] + t.rootArgs, currentDirectory: t.url)
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(!result.stderr.contains("root:"), "\(result)")
            #expect(result.stderr.contains("not a thumbprint"), "\(result)")
        }
    }
}
