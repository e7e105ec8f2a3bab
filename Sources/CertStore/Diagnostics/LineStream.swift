import Foundation

/// Cuts a file into lines in bounded memory: 64 KiB reads, a line longer than `maxLength` bytes is skipped whole
/// (reported through `tooLong`), a final line without a newline is still a line. Shared by the Exchange protocol
/// log reader and the mail log reader.
struct LineStream {
    let maxLength: Int

    /// Calls `line` with each line's number (1-based) and bytes (without the newline), `tooLong` with the number
    /// of each line over `maxLength`.
    func read(_ url: URL, line: (Int, ArraySlice<UInt8>) throws -> Void, tooLong: (Int) -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw CertStoreError(.inputUnreadable, "cannot read \(url.path)")
        }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var lineNumber = 0
        var skippingLongLine = false
        while true {
            let chunk: Data
            do {
                guard let read = try handle.read(upToCount: 64 * 1024), !read.isEmpty else { break }
                chunk = read
            } catch {
                throw CertStoreError(.inputUnreadable, "cannot read \(url.path): \(error.localizedDescription)")
            }
            var start = chunk.startIndex
            for index in chunk.indices where chunk[index] == 0x0A {
                lineNumber += 1
                if skippingLongLine {
                    skippingLongLine = false
                    tooLong(lineNumber)
                } else {
                    pending += chunk[start..<index]
                    try line(lineNumber, pending[...])
                }
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            if !skippingLongLine { pending += chunk[start...] }
            if pending.count > maxLength {
                skippingLongLine = true
                pending.removeAll()
            }
        }
        if skippingLongLine {
            tooLong(lineNumber + 1)
        } else if !pending.isEmpty {
            try line(lineNumber + 1, pending[...])
        }
    }

    /// The first lines of a file (at most `count`, within its first 64 KiB), for format detection.
    static func head(_ url: URL, count: Int) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw CertStoreError(.inputUnreadable, "cannot read \(url.path)")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: 64 * 1024) ?? Data() } catch {
            throw CertStoreError(.inputUnreadable, "cannot read \(url.path): \(error.localizedDescription)")
        }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if data.count == 64 * 1024, lines.count > 1 { lines.removeLast() }  // cut mid-line
        return Array(lines.prefix(count))
    }
}
