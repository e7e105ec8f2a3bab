import Foundation

/// One record of property values as an `Encodable` JSON object: what `JSONEncoder` writes for `show` and
/// the other single-record outputs, and the reference `JSONRecordText` is tested against byte for byte.
public struct JSONRecordObject: Encodable, Sendable {
    public let fields: [(key: String, value: PropertyValue)]
    private let dateText: @Sendable (Date) -> String

    public init(fields: [(key: String, value: PropertyValue)], dateText: @escaping @Sendable (Date) -> String) {
        self.fields = fields
        self.dateText = dateText
    }

    private struct Key: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in fields {
            let key = Key(key)
            switch value {
            case .string(let s): try container.encode(s, forKey: key)
            case .bool(let b): try container.encode(b, forKey: key)
            case .int(let i): try container.encode(i, forKey: key)
            case .date(let d):
                if let d { try container.encode(dateText(d), forKey: key) } else { try container.encodeNil(forKey: key) }
            case .list(let items): try container.encode(items, forKey: key)
            case .flags(let names, _): try container.encode(names, forKey: key)
            case .null: try container.encodeNil(forKey: key)
            }
        }
    }
}
