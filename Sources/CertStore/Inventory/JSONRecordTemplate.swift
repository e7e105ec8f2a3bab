import Foundation

/// One certificate's property values as JSON text, kept in the store index so that a warm
/// `list --format json` of all properties appends bytes instead of decoding a record and rendering it.
///
/// A warm listing spent most of its time turning index records into strings and strings into JSON. An index
/// record now carries each value already written as JSON, in `JSONRecordText.certificates`' output order;
/// the writer adds the keys and layout around them. The values that depend on more than the certificate's
/// own files (its bound services, whether it is the default SMTP certificate: `isContextual`) are left as
/// holes and computed at listing time. The text is trusted exactly as long as the record: the index is
/// rebuilt from the files whenever a stamp changes, and ignored whole when it was written for another set
/// of properties (`schema`).
///
/// Encoded as one length-prefixed text per column in output order; length 0 (never a JSON value) is a hole.
/// Kept as a range of a shared buffer (the index file's bytes), never copied.
package struct JSONRecordTemplate: Sendable {
    let storage: [UInt8]
    let range: Range<Int>

    init(storage: [UInt8], range: Range<Int>) {
        self.storage = storage
        self.range = range
    }

    /// What the values were written for: the JSON keys in column order and this encoding's version. An
    /// index written for anything else is not used.
    static let schema: String = "json-values-1:" + CertificateProperty.all.map(\.jsonKey).joined(separator: ",")

    /// The values of `entry` for every column of `CertificateProperty.all`, holes for the contextual ones.
    static func render(_ entry: StoreEntry) -> JSONRecordTemplate {
        let writer = JSONRecordText.certificates
        let context = PropertyContext.none
        var encoded = ByteWriter()
        encoded.reserveCapacity(1_024)
        var text: [UInt8] = []
        for column in writer.order {
            let property = CertificateProperty.all[column]
            if property.isContextual {
                encoded.varint(0)
                continue
            }
            text.removeAll(keepingCapacity: true)
            writer.appendValue(property.value(of: entry, context: context), to: &text)
            encoded.varint(UInt64(text.count))
            encoded.raw(text)
        }
        return JSONRecordTemplate(storage: encoded.bytes, range: 0..<encoded.bytes.count)
    }
}
