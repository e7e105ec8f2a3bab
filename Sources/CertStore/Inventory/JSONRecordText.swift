import Foundation

/// Writes records of property values as JSON text, byte for byte what Foundation's `JSONEncoder` writes
/// with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]` for an array of such objects.
///
/// `JSONEncoder` goes through Codable containers, a dictionary per object and a sort per object: about
/// 40 µs for a 28-property record, most of a warm listing. This writer sorts the keys once per listing
/// and appends bytes. It never escapes anything itself: a string with no byte that JSON requires to be
/// escaped (`"`, `\`, U+0000–U+001F) is written between quotes as it is; any other string is handed to
/// `JSONEncoder` on its own. Tests compare its output with `JSONEncoder`'s on hostile strings.
package struct JSONRecordText: Sendable {
    /// The output order: column indices, keys sorted as `JSONEncoder` sorts them (by UTF-8 bytes), each once.
    let order: [Int]
    /// Per column: the member's indentation, quoted key and separator, ready to append.
    private let prefixes: [[UInt8]]
    private let dateText: @Sendable (Date) -> String

    /// `keys` are the JSON keys of the columns in row order; a key given twice keeps its last column,
    /// as `JSONEncoder` does.
    package init(keys: [String], dateText: @escaping @Sendable (Date) -> String) {
        var last: [String: Int] = [:]
        for (index, key) in keys.enumerated() { last[key] = index }
        order = last.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.value)
        prefixes = keys.map { key in
            var encoded = Self.memberIndent
            Self.appendString(key, to: &encoded)
            return encoded + Self.colon
        }
        self.dateText = dateText
    }

    /// Appends one object, indented as an element of a top-level array (no separator before or after).
    package func appendRecord(_ values: [PropertyValue], to out: inout [UInt8]) {
        precondition(values.count == prefixes.count, "a row has one value per key")
        out.append(contentsOf: Self.objectOpen)
        for (position, index) in order.enumerated() {
            out.append(contentsOf: prefixes[index])
            appendValue(values[index], to: &out)
            if position < order.count - 1 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\n"))
        }
        if order.isEmpty { out.append(UInt8(ascii: "\n")) }
        out.append(contentsOf: Self.objectClose)
    }

    /// The writer of `list --format json` with every property (`CertificateProperty.all`): the one the
    /// index's `JSONRecordTemplate`s are written with.
    package static let certificates = JSONRecordText(keys: CertificateProperty.all.map(\.jsonKey), dateText: ISO8601Text.string)

    /// `appendRecord` for a record whose values are already JSON text (`JSONRecordTemplate`, made by
    /// `JSONRecordText.certificates`); holes are filled with `value(column)`. This writer's columns must be
    /// columns of `CertificateProperty.all` (`selection`: for each of this writer's columns, its index there):
    /// the template holds every column in sorted-key order, and any selection's sorted order is a part of
    /// it, so the selected values are taken in passing. False, with `out` as it was, when the template does
    /// not fit (damaged, or made for other columns).
    package func appendRecord(_ template: JSONRecordTemplate, selection: TemplateSelection, value: (Int) -> PropertyValue,
                             to out: inout [UInt8]) -> Bool {
        let mark = out.count
        var reader = ByteReader(template.storage, range: template.range)
        out.append(contentsOf: Self.objectOpen)
        var written = 0
        let complete: Bool = template.storage.withUnsafeBufferPointer { buffer in
            for allColumn in Self.certificates.order {
                guard let length = try? reader.varint(), length <= UInt64(template.range.upperBound - reader.offset) else { return false }
                let start = reader.offset
                try? reader.skip(Int(length))
                guard let column = selection.writerColumn[allColumn] else { continue }
                out.append(contentsOf: prefixes[column])
                if length == 0 {
                    appendValue(value(column), to: &out)
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<(start + Int(length))]))
                }
                written += 1
                if written < order.count { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            return reader.isAtEnd && written == order.count
        }
        guard complete else {
            out.removeSubrange(mark...)
            return false
        }
        if order.isEmpty { out.append(UInt8(ascii: "\n")) }
        out.append(contentsOf: Self.objectClose)
        return true
    }

    /// Which of `CertificateProperty.all`'s columns a writer has, and where: made once per listing.
    package struct TemplateSelection: Sendable {
        /// For each column of `CertificateProperty.all`, this writer's column showing it (nil: not shown).
        let writerColumn: [Int?]

        /// `columns`: the writer's columns as indices into `CertificateProperty.all` (a column given twice
        /// keeps its last place, as the writer's keys do).
        package init(columns: [Int]) {
            var map = [Int?](repeating: nil, count: CertificateProperty.all.count)
            for (writerColumn, column) in columns.enumerated() { map[column] = writerColumn }
            writerColumn = map
        }
    }

    private static let objectOpen: [UInt8] = Array("  {\n".utf8)
    private static let objectClose: [UInt8] = Array("  }".utf8)
    private static let memberIndent: [UInt8] = Array("    ".utf8)
    private static let elementIndent: [UInt8] = Array("      ".utf8)
    private static let colon: [UInt8] = Array(" : ".utf8)
    private static let emptyArray: [UInt8] = Array("[\n\n    ]".utf8)
    private static let trueText: [UInt8] = Array("true".utf8)
    private static let falseText: [UInt8] = Array("false".utf8)
    private static let nullText: [UInt8] = Array("null".utf8)

    func appendValue(_ value: PropertyValue, to out: inout [UInt8]) {
        switch value {
        case .string(let string): Self.appendString(string, to: &out)
        case .bool(let bool): out.append(contentsOf: bool ? Self.trueText : Self.falseText)
        case .int(let int): out.append(contentsOf: String(int).utf8)
        case .date(let date):
            if let date { Self.appendString(dateText(date), to: &out) } else { out.append(contentsOf: Self.nullText) }
        case .list(let items), .flags(let items, _): Self.appendArray(items, to: &out)
        case .null: out.append(contentsOf: Self.nullText)
        }
    }

    private static func appendArray(_ items: [String], to out: inout [UInt8]) {
        guard !items.isEmpty else {
            out.append(contentsOf: emptyArray)
            return
        }
        out.append(contentsOf: "[\n".utf8)
        for (index, item) in items.enumerated() {
            out.append(contentsOf: elementIndent)
            appendString(item, to: &out)
            out.append(contentsOf: index < items.count - 1 ? ",\n".utf8 : "\n".utf8)
        }
        out.append(contentsOf: memberIndent)
        out.append(UInt8(ascii: "]"))
    }

    /// A JSON string: as it is between quotes when nothing in it needs escaping, else `JSONEncoder`'s text.
    static func appendString(_ string: String, to out: inout [UInt8]) {
        // Native strings are contiguous UTF-8: scan and copy the buffer directly.
        let done: Bool? = string.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where needsEscaping(byte) { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return true
        }
        switch done {
        case true?: return
        case false?: out.append(contentsOf: escapedByFoundation(string))
        case nil:
            var copy = string
            copy.makeContiguousUTF8()
            appendString(copy, to: &out)
        }
    }

    /// The bytes JSON (RFC 8259) does not allow unescaped inside a string.
    @inline(__always)
    static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private static func escapedByFoundation(_ string: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Encoding a String cannot fail; were it ever to, an empty string is still valid JSON.
        return (try? Array(encoder.encode(string))) ?? Array("\"\"".utf8)
    }
}
