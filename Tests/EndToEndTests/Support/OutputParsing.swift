import Foundation

/// RFC 4180 CSV: quoted fields, doubled quotes, separators and line breaks inside quotes; CRLF or LF.
func parseCSV(_ text: String) throws -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var fieldStarted = false
    var iterator = Array(text.unicodeScalars).makeIterator()
    var pending: Unicode.Scalar? = nil
    func next() -> Unicode.Scalar? {
        if let p = pending { pending = nil; return p }
        return iterator.next()
    }
    while let c = next() {
        if inQuotes {
            if c == "\"" {
                if let n = next() {
                    if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = n }
                } else { inQuotes = false }
            } else {
                field.unicodeScalars.append(c)
            }
            continue
        }
        switch c {
        case "\"":
            guard field.isEmpty else { throw RunnerError("CSV: quote inside an unquoted field: \(field)") }
            inQuotes = true
            fieldStarted = true
        case ",":
            row.append(field); field = ""; fieldStarted = true
        case "\r":
            continue
        case "\n":
            row.append(field); rows.append(row); row = []; field = ""; fieldStarted = false
        default:
            field.unicodeScalars.append(c); fieldStarted = true
        }
    }
    if inQuotes { throw RunnerError("CSV: unterminated quoted field") }
    if fieldStarted || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}

/// PowerShell `Format-List` output: records separated by blank lines, `Name : value` lines.
func parseListOutput(_ text: String) -> [[String: String]] {
    var records: [[String: String]] = []
    var current: [String: String] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.trimmingCharacters(in: .whitespaces).isEmpty {
            if !current.isEmpty { records.append(current); current = [:] }
            continue
        }
        guard let range = line.range(of: " : ") else { continue }
        let name = line[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
        current[name] = String(line[range.upperBound...])
    }
    if !current.isEmpty { records.append(current) }
    return records
}

/// A JSON array of objects (what `list --format json` prints).
func parseJSONArray(_ text: String) throws -> [[String: Any]] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    guard let array = object as? [[String: Any]] else { throw RunnerError("not a JSON array of objects:\n\(text)") }
    return array
}

/// Thumbprints listed by `--format json` output.
func jsonThumbprints(_ text: String) throws -> Set<String> {
    Set(try parseJSONArray(text).compactMap { $0["thumbprint"] as? String })
}

/// The non-empty lines of a table, without the PSParentPath header.
func tableLines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init)
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.contains("PSParentPath:") }
}

func words(_ line: String) -> [String] { line.split(whereSeparator: { $0 == " " }).map(String.init) }
