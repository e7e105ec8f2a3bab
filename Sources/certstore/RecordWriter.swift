import CSV
import CertStore
import Foundation

/// Renders rows of named property values as a PowerShell-style table or list, CSV, or JSON.
///
/// JSON and CSV stream row by row; a table needs every row to size its columns.
struct RecordWriter {
    typealias Row = [(name: String, jsonKey: String, value: PropertyValue)]

    let format: OutputFormat
    /// Printed above a table, like PowerShell's group header (`PSParentPath: …`).
    var tableHeader: String? = nil

    /// ISO 8601 in UTC, e.g. 2026-01-01T00:00:00Z: unambiguous in every locale.
    static func dateText(_ date: Date) -> String { date.formatted(.iso8601) }

    static func text(_ value: PropertyValue, csv: Bool = false) -> String {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .date(let d): return d.map(dateText) ?? ""
        case .list(let items): return csv ? items.joined(separator: "; ") : (items.isEmpty ? "{}" : "{" + items.joined(separator: ", ") + "}")
        case .flags(_, let mask): return mask
        case .null: return ""
        }
    }

    static func json(_ value: PropertyValue) -> Any {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b
        case .int(let i): return i
        case .date(let d): return d.map { dateText($0) as Any } ?? NSNull()
        case .list(let items): return items
        case .flags(let names, _): return names
        case .null: return NSNull()
        }
    }

    /// One CSV record with its line ending (RFC 4180 quoting by CSV.swift).
    static func csvLine(_ fields: [String]) -> Data {
        guard let writer = try? CSVWriter(stream: .toMemory()) else { return Data() }
        try? writer.write(row: fields)
        writer.stream.close()
        let data = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data()
        return data + Data("\n".utf8)
    }

    /// One JSON object, keys sorted (the documented, stable order).
    static func jsonObject(_ row: Row, pretty: Bool = true) -> String {
        var object: [String: Any] = [:]
        for column in row { object[column.jsonKey] = json(column.value) }
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: options)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes all rows; `columns` gives the header order when there are no rows.
    func write(_ rows: some Sequence<Row>, columns: [String]) {
        switch format {
        case .prometheus:
            preconditionFailure("Failure.run rejects --format prometheus before a command runs")
        case .json:
            var first = true
            Terminal.out("[")
            for row in rows {
                let body = Self.jsonObject(row).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
                if !first { Terminal.out(",") }
                FileHandle.standardOutput.write(Data(body.utf8))
                first = false
            }
            Terminal.out(first ? "]" : "\n]")
        case .csv:
            // Each record through CSV.swift into memory, then out through the process's own stdout, line by line.
            FileHandle.standardOutput.write(Self.csvLine(columns))
            for row in rows { FileHandle.standardOutput.write(Self.csvLine(row.map { Self.text($0.value, csv: true) })) }
        case .list:
            let width = columns.map(\.count).max() ?? 0
            var first = true
            for row in rows {
                Terminal.out("")
                if first, let tableHeader { Terminal.out(tableHeader); Terminal.out("") }
                first = false
                for column in row {
                    let name = column.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    Terminal.out("\(name) : \(Terminal.sanitize(Self.text(column.value)))")
                }
            }
            if !first { Terminal.out("") }
        case .table:
            let cells = rows.map { $0.map { Terminal.sanitize(Self.text($0.value)) } }
            guard !cells.isEmpty else { return }
            var widths = columns.map(\.count)
            for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            func line(_ values: [String]) -> String {
                values.enumerated().map { i, value in
                    i == values.count - 1 ? value : value.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }.joined(separator: "  ").trimmingTrailingSpaces()
            }
            Terminal.out("")
            if let tableHeader { Terminal.out(tableHeader); Terminal.out("") }
            Terminal.out(line(columns))
            Terminal.out(line(columns.map { String(repeating: "-", count: $0.count) }))
            for row in cells { Terminal.out(line(row)) }
            Terminal.out("")
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
