import Foundation

/// A property value, typed so each output format can render it its own way.
public enum PropertyValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case date(Date?)
    case list([String])
    case null
}
