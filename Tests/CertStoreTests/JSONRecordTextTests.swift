import Foundation
import Testing
@testable import CertStore

/// JSONRecordText must write exactly what Foundation's JSONEncoder writes for the same records.
@Suite("JSONRecordText")
struct JSONRecordTextTests {
    @Sendable static func dateText(_ date: Date) -> String { date.formatted(.iso8601) }

    /// The reference: the Codable record `show` writes (and `list --format json` wrote before), through JSONEncoder.
    static func reference(_ records: [[(key: String, value: PropertyValue)]]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(records.map { JSONRecordObject(fields: $0, dateText: dateText) }), as: UTF8.self)
        return text
    }

    static func ours(keys: [String], _ records: [[PropertyValue]]) -> String {
        let writer = JSONRecordText(keys: keys, dateText: dateText)
        var out: [UInt8] = []
        if records.isEmpty { return "[\n\n]" }
        out += Array("[\n".utf8)
        for (index, values) in records.enumerated() {
            if index > 0 { out += Array(",\n".utf8) }
            writer.appendRecord(values, to: &out)
        }
        out += Array("\n]".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// Strings that need every kind of escaping, and some that need none.
    static let hostile: [String] = {
        var strings = ["", "plain", "CN=host, O=\"Quoted, Inc\"", "back\\slash", "a/b", "tab\there", "line\nbreak",
                       "cr\rlf\n", "\u{0}", "\u{1F}", "\u{7F}", "\u{08}\u{0C}", "Zürich Straße", "日本語", "emoji 😀",
                       "\u{2028}\u{2029}", "\u{FEFF}bom", "\"", "\\\"", "</script>", "trailing space "]
        for scalar in 0..<0x80 { strings.append("x" + String(UnicodeScalar(UInt8(scalar))) + "y") }
        return strings
    }()

    @Test("every ASCII character and hostile strings, in strings and lists")
    func sameAsJSONEncoder() throws {
        let keys = ["subject", "dnsNameList", "zeta", "alpha", "Upper", "count", "flag", "when", "never", "nothing", "usage"]
        var records: [[PropertyValue]] = []
        for (index, string) in Self.hostile.enumerated() {
            records.append([
                .string(string), .list([string, "b", string]), .list([]), .string(string + string),
                .string("k"), .int(index - 40), .bool(index % 2 == 0),
                .date(Date(timeIntervalSince1970: Double(index) * 86_400 * 97)), .date(nil), .null,
                .flags(names: index % 3 == 0 ? [] : ["DigitalSignature", string], mask: "x"),
            ])
        }
        let fields = records.map { Array(zip(keys, $0)).map { (key: $0.0, value: $0.1) } }
        #expect(Self.ours(keys: keys, records) == (try Self.reference(fields)))
    }

    @Test("a key given twice keeps its last value; one key; no keys")
    func keyEdgeCases() throws {
        let twice = ["b", "a", "b"]
        let values: [PropertyValue] = [.string("first"), .int(1), .string("second")]
        let expected = try Self.reference([Array(zip(twice, values)).map { (key: $0.0, value: $0.1) }])
        #expect(Self.ours(keys: twice, [values]) == expected)
        #expect(Self.ours(keys: ["only"], [[.bool(true)]]) == (try Self.reference([[(key: "only", value: .bool(true))]])))
        #expect(Self.ours(keys: [], [[]]) == (try Self.reference([[]])))
    }

    @Test("random strings of any Unicode scalars")
    func randomStrings() throws {
        var generator = SeededGenerator(seed: 2026)
        var records: [[PropertyValue]] = []
        for _ in 0..<300 {
            let length = Int.random(in: 0..<24, using: &generator)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                let pick = Int.random(in: 0..<4, using: &generator)
                let value: UInt32 = switch pick {
                case 0: UInt32.random(in: 0..<0x80, using: &generator)
                case 1: UInt32.random(in: 0x80..<0x800, using: &generator)
                case 2: UInt32.random(in: 0x800..<0xD800, using: &generator)
                default: UInt32.random(in: 0x10000..<0x110000, using: &generator)
                }
                scalars.append(UnicodeScalar(value)!)
            }
            records.append([.string(String(scalars)), .list([String(scalars)])])
        }
        let keys = ["s", "l"]
        let fields = records.map { Array(zip(keys, $0)).map { (key: $0.0, value: $0.1) } }
        let ours = Self.ours(keys: keys, records)
        #expect(ours == (try Self.reference(fields)))
        // And it parses back to the same strings.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(ours.utf8)) as? [[String: Any]])
        for (record, values) in zip(parsed, records) {
            guard case .string(let s) = values[0] else { continue }
            #expect(record["s"] as? String == s)
        }
    }
}

/// splitmix64: reproducible pseudo-random numbers for tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("ISO8601Text")
struct ISO8601TextTests {
    @Test("equals Date.formatted(.iso8601) for whole and fractional seconds, in and out of the fast range")
    func sameAsFoundation() {
        var generator = SeededGenerator(seed: 86_400)
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
            Date(timeIntervalSince1970: 4_107_542_400), Date(timeIntervalSince1970: 253_402_300_799),                     // 2100-03-01, 9999-12-31T23:59:59
            Date(timeIntervalSince1970: 253_402_300_800), Date(timeIntervalSince1970: -30_610_224_000),                   // 10000-01-01, 1000-01-01
            Date(timeIntervalSince1970: -30_610_224_001), Date(timeIntervalSince1970: -2_208_988_800),                    // 999-12-31, 1900-01-01
            Date(timeIntervalSince1970: -12_212_553_600), Date(timeIntervalSince1970: -12_212_553_601),                   // 1583-01-01 and before
            Date(timeIntervalSince1970: -12_219_292_800),                                                                 // 1582-10-15
            Date(timeIntervalSince1970: 1_764_439_242.005), Date(timeIntervalSince1970: 1_764_439_242.999),
            Date(timeIntervalSince1970: -0.5),
        ]
        for _ in 0..<5_000 {
            dates.append(Date(timeIntervalSince1970: Double(Int64.random(in: -62_135_596_800...300_000_000_000, using: &generator))))
        }
        for _ in 0..<3_000 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: -3e9...3e9, using: &generator)))
        }
        for _ in 0..<2_000 {  // milliseconds, as importedAt has them, and the last instants of a second
            let second = Double(Int64.random(in: -12_000_000_000...253_000_000_000, using: &generator))
            dates.append(Date(timeIntervalSince1970: second + Double(Int.random(in: 0..<1000, using: &generator)) / 1000))
            dates.append(Date(timeIntervalSince1970: second + 0.9999999))
            dates.append(Date(timeIntervalSince1970: second - 0.0000001))
        }
        for date in dates {
            #expect(ISO8601Text.string(date) == date.formatted(.iso8601), "\(date.timeIntervalSince1970)")
        }
    }
}
