import CSV
import CertStore
import Foundation

/// Renders rows of named property values as a PowerShell-style table or list, CSV, or JSON.
///
/// JSON, CSV and list stream row by row (`RowStream`); a table keeps every row's text to size its columns.
struct RecordWriter {
    typealias Row = [(name: String, jsonKey: String, value: PropertyValue)]

    let format: OutputFormat
    /// Printed above a table, like PowerShell's group header (`PSParentPath: …`).
    var tableHeader: String? = nil

    /// ISO 8601 in UTC, e.g. 2026-01-01T00:00:00Z: unambiguous in every locale.
    static func dateText(_ date: Date) -> String { ISO8601Text.string(date) }

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
    static func csvLine(_ fields: [String]) -> Data { csvLines([fields]) }

    /// CSV records, each with its line ending, through one CSV.swift writer.
    static func csvLines(_ rows: [[String]]) -> Data {
        let collector = ByteCollector()
        guard !rows.isEmpty, let writer = try? CSVWriter(stream: collector) else { return Data() }
        for row in rows { try? writer.write(row: row) }   // the writer puts a line ending between records
        return Data(collector.bytes + [UInt8(ascii: "\n")])
    }

    static func makeJSONEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// One JSON object, keys sorted (the documented, stable order).
    static func jsonObject(_ row: Row) -> String {
        let record = JSONRecordObject(fields: row.map { (key: $0.jsonKey, value: $0.value) }, dateText: dateText)
        let data = (try? makeJSONEncoder().encode(record)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes all rows; `columns` gives the header order when there are no rows.
    func write(_ rows: some Sequence<Row>, columns: [String]) {
        let stream = RowStream(self, columns: columns)
        for row in rows { stream.add(row) }
        stream.finish()
    }
}

/// Rows in as they come, text out: JSON, CSV and list write each row as it arrives (JSON a batch at a time);
/// a table keeps only its cells' text, because its column widths depend on every row.
final class RowStream {
    private let writer: RecordWriter
    private let columns: [String]
    private var json: JSONListWriter<[PropertyValue]>?
    private var cells: [[String]] = []
    /// CSV records not yet written: CSV.swift costs about 8 µs per field, so records are encoded on all cores,
    /// a few thousand at a time, and written in order.
    private var pendingCSV: [[String]] = []
    private var rowCount = 0

    init(_ writer: RecordWriter, columns: [String]) {
        self.writer = writer
        self.columns = columns
    }

    func add(_ row: RecordWriter.Row) {
        defer { rowCount += 1 }
        switch writer.format {
        case .prometheus:
            preconditionFailure("Failure.run rejects --format prometheus before a command runs")
        case .json:
            // The keys come with the first row (every row has the same columns).
            if json == nil { json = JSONListWriter(keys: row.map(\.jsonKey)) { $0 } }
            json?.add(row.map(\.value))
        case .csv:
            // Records through CSV.swift into memory (on all cores, `flushCSV`), then out through the process's own
            // stdout, in order.
            if rowCount == 0 { FileHandle.standardOutput.write(RecordWriter.csvLine(columns)) }
            // Control characters escaped as in table output (exact values stay available in JSON).
            pendingCSV.append(row.map { Terminal.sanitize(RecordWriter.text($0.value, csv: true)) })
            if pendingCSV.count >= 4_096 { flushCSV() }
        case .list:
            let width = columns.map(\.count).max() ?? 0
            Terminal.out("")
            if rowCount == 0, let tableHeader = writer.tableHeader { Terminal.out(tableHeader); Terminal.out("") }
            for column in row {
                let name = column.name.padding(toLength: width, withPad: " ", startingAt: 0)
                Terminal.out("\(name) : \(Terminal.sanitize(RecordWriter.text(column.value)))")
            }
        case .table:
            cells.append(row.map { Terminal.sanitize(RecordWriter.text($0.value)) })
        }
    }

    private func flushCSV() {
        guard !pendingCSV.isEmpty else { return }
        let rows = pendingCSV
        pendingCSV.removeAll(keepingCapacity: true)
        let slices = stride(from: 0, to: rows.count, by: 256).map { $0..<min($0 + 256, rows.count) }
        let encoded = concurrentMap(count: slices.count, lanes: slices.count) { RecordWriter.csvLines(Array(rows[slices[$0]])) }
        for data in encoded { FileHandle.standardOutput.write(data) }
    }

    func finish() {
        switch writer.format {
        case .prometheus:
            preconditionFailure("Failure.run rejects --format prometheus before a command runs")
        case .json:
            if let json { json.finish() } else { FileHandle.standardOutput.write(Data("[]\n".utf8)) }
        case .csv:
            if rowCount == 0 { FileHandle.standardOutput.write(RecordWriter.csvLine(columns)) }
            flushCSV()
        case .list:
            if rowCount > 0 { Terminal.out("") }
        case .table:
            guard !cells.isEmpty else { return }
            var widths = columns.map(\.count)
            for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            func line(_ values: [String]) -> String {
                values.enumerated().map { i, value in
                    i == values.count - 1 ? value : value.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }.joined(separator: "  ").trimmingTrailingSpaces()
            }
            Terminal.out("")
            if let tableHeader = writer.tableHeader { Terminal.out(tableHeader); Terminal.out("") }
            Terminal.out(line(columns))
            Terminal.out(line(columns.map { String(repeating: "-", count: $0.count) }))
            for row in cells { Terminal.out(line(row)) }
            Terminal.out("")
        }
    }
}

/// Streams a JSON array of records to standard output.
///
/// JSONRecordText writes JSONEncoder's exact text without its per-object Codable machinery. Items are taken a
/// batch at a time, so memory stays bounded; within a batch, slices of 512 are turned into values and text on
/// all cores and written out in order. Nothing is written before the first batch or `finish()`, so an error
/// before any item leaves standard output empty.
final class JSONListWriter<Item: Sendable> {
    private let text: JSONRecordText
    private let values: @Sendable (Item) -> [PropertyValue]
    /// Appends an item's kept text with this writer when it has one (true), so its values need not be computed.
    private let appendKept: (@Sendable (Item, JSONRecordText, inout [UInt8]) -> Bool)?
    private let batchSize = 512 * max(1, ProcessInfo.processInfo.activeProcessorCount)
    private var pending: [Item] = []
    private var opened = false
    private var wroteAny = false

    init(keys: [String], values: @escaping @Sendable (Item) -> [PropertyValue],
         appendKept: (@Sendable (Item, JSONRecordText, inout [UInt8]) -> Bool)? = nil) {
        text = JSONRecordText(keys: keys, dateText: RecordWriter.dateText)
        self.values = values
        self.appendKept = appendKept
    }

    func add(_ item: Item) {
        pending.append(item)
        if pending.count == batchSize { flush() }
    }

    func finish() {
        flush()
        open()
        FileHandle.standardOutput.write(Data((wroteAny ? "\n]\n" : "]\n").utf8))
    }

    private func open() {
        guard !opened else { return }
        opened = true
        FileHandle.standardOutput.write(Data("[".utf8))
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        open()
        let batch = pending, text = text, values = values, appendKept = appendKept
        let slices = stride(from: 0, to: batch.count, by: 512).map { $0..<min($0 + 512, batch.count) }
        let encoded = concurrentMap(count: slices.count, lanes: slices.count) { index in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(slices[index].count * 1600)
            for item in batch[slices[index]] {
                bytes.append(contentsOf: bytes.isEmpty ? "\n".utf8 : ",\n".utf8)
                if appendKept?(item, text, &bytes) != true { text.appendRecord(values(item), to: &bytes) }
            }
            return Data(bytes)
        }
        for body in encoded where !body.isEmpty {
            FileHandle.standardOutput.write(wroteAny ? Data(",".utf8) + body : body)
            wroteAny = true
        }
        pending.removeAll(keepingCapacity: true)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// An output stream that collects bytes in a Swift array. CSV.swift writes one byte per call, and Foundation's
/// memory stream made each a CFWriteStream call (a fifth of CSV output's time, measured).
final class ByteCollector: OutputStream {
    private(set) var bytes: [UInt8] = []

    init() { super.init(toMemory: ()) }

    required init(toMemory: ()) { super.init(toMemory: ()) }

    override var streamStatus: Stream.Status { .open }
    override var hasSpaceAvailable: Bool { true }
    override func open() {}
    override func close() {}

    override func write(_ buffer: UnsafePointer<UInt8>, maxLength length: Int) -> Int {
        bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: length))
        return length
    }
}
