import CSV
import Foundation

/// Streams Exchange SMTP protocol logs (`#Fields:` header, then CSV rows) in bounded memory.
///
/// Lines are cut by this reader (64 KiB chunks); each line is parsed by CSV.swift on its own, so a broken
/// line (an unterminated quote, a wrong field count) is reported with its number and skipped instead of
/// swallowing the rest of the file.
public struct ProtocolLogReader: Sendable {
    public struct Row: Sendable {
        public let file: String
        public let line: Int
        public let dateTime: String
        public let connector: String
        public let session: String
        public let remoteEndpoint: String
        public let event: String
        public let data: String
        public let context: String
    }

    public struct Malformed: Sendable, Equatable {
        public let file: String
        public let line: Int
        public let reason: String
    }

    public static let standardFields = ["date-time", "connector-id", "session-id", "sequence-number", "local-endpoint",
                                        "remote-endpoint", "event", "data", "context"]
    /// A longer line is not a protocol log line (Exchange caps data at a few KB).
    public static let maxLineLength = 64 * 1024

    public init() {}

    /// The log files named: files as given, directories expanded to their `*.log` files (sorted).
    public static func files(_ paths: [String]) throws -> [URL] {
        var result: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var info = stat()
            guard stat(url.path, &info) == 0 else {
                throw CertStoreError(.inputUnreadable, "cannot read \(path): no such file or directory")
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                let logs = try logFiles(in: url, depth: 0)
                guard !logs.isEmpty else { throw CertStoreError(.inputUnreadable, "\(path) holds no .log files") }
                result += logs
            } else {
                result.append(url)
            }
        }
        return result
    }

    /// `*.log` files in a directory and its subdirectories (Exchange keeps SmtpSend/ and SmtpReceive/), sorted.
    static func logFiles(in directory: URL, depth: Int) throws -> [URL] {
        guard depth < 4 else { return [] }
        var found: [URL] = []
        for name in try FileSystem.list(directory).sorted() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            var info = stat()
            guard lstat(url.path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                found += try logFiles(in: url, depth: depth + 1)
            } else if (info.st_mode & S_IFMT) == S_IFREG, name.lowercased().hasSuffix(".log") {
                found.append(url)
            }
        }
        return found
    }

    /// Calls `row` for every well-formed data row and `malformed` for every line that is not one.
    public func read(_ url: URL, row: (Row) -> Void, malformed: (Malformed) -> Void) throws {
        let name = url.lastPathComponent
        var fields = Self.standardFields
        try LineStream(maxLength: Self.maxLineLength).read(url, line: { lineNumber, bytes in
            var text = String(decoding: bytes, as: UTF8.self)
            if lineNumber == 1, text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            if text.hasSuffix("\r") { text.removeLast() }
            if text.isEmpty { return }
            if text.hasPrefix("#") {
                if text.hasPrefix("#Fields:") {
                    fields = text.dropFirst("#Fields:".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                }
                return
            }
            guard let values = Self.csvValues(text) else {
                malformed(Malformed(file: name, line: lineNumber, reason: "not valid CSV (unbalanced quotes?)"))
                return
            }
            guard values.count == fields.count else {
                malformed(Malformed(file: name, line: lineNumber, reason: "\(values.count) fields where the #Fields header has \(fields.count)"))
                return
            }
            func value(_ field: String) -> String {
                fields.firstIndex(of: field).map { values[$0] } ?? ""
            }
            row(Row(file: name, line: lineNumber, dateTime: value("date-time"), connector: value("connector-id"),
                    session: value("session-id"), remoteEndpoint: value("remote-endpoint"), event: value("event"),
                    data: value("data"), context: value("context")))
        }, tooLong: { lineNumber in
            malformed(Malformed(file: name, line: lineNumber, reason: "longer than \(Self.maxLineLength) bytes"))
        })
    }

    /// One CSV line's values, nil when it is not valid CSV.
    static func csvValues(_ text: String) -> [String]? {
        guard let reader = try? CSVReader(string: text), let values = reader.next(), reader.error == nil else { return nil }
        return values
    }
}
