import Foundation

/// `Date.formatted(.iso8601)` (e.g. `2026-11-29T18:01:12Z`), without Foundation's calendar machinery for
/// the dates listings are made of: dates in the years 1583–9999 are written from `gmtime_r`'s
/// (proleptic Gregorian) fields; any other date goes to Foundation, whose calendar is Julian before the
/// 1582 reform. Tests compare the two on many dates.
package enum ISO8601Text {
    /// 1583-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
    static let fastRange: Range<Double> = -12_212_553_600..<253_402_300_800

    package static func string(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        // Foundation drops a fraction of a second (it does not round): so does this.
        guard fastRange.contains(seconds) else { return date.formatted(.iso8601) }
        var time = time_t(seconds.rounded(.down))
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return date.formatted(.iso8601) }
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int32, at index: Int, digits: Int) {
            var value = Int(value)
            for offset in stride(from: digits - 1, through: 0, by: -1) {
                bytes[index + offset] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(parts.tm_year + 1900, at: 0, digits: 4)
        bytes[4] = UInt8(ascii: "-")
        put(parts.tm_mon + 1, at: 5, digits: 2)
        bytes[7] = UInt8(ascii: "-")
        put(parts.tm_mday, at: 8, digits: 2)
        bytes[10] = UInt8(ascii: "T")
        put(parts.tm_hour, at: 11, digits: 2)
        bytes[13] = UInt8(ascii: ":")
        put(parts.tm_min, at: 14, digits: 2)
        bytes[16] = UInt8(ascii: ":")
        put(parts.tm_sec, at: 17, digits: 2)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }
}
