import Foundation

/// A property value, typed so each output format can render it its own way.
public enum PropertyValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case date(Date?)
    case list([String])
    /// A set of flags: the names in JSON, the compact mask in text formats.
    case flags(names: [String], mask: String)
    case null
}

/// What property values need beyond the certificate itself.
public struct PropertyContext: Sendable {
    public let bindings: ServiceBindings

    public init(bindings: ServiceBindings = ServiceBindings()) { self.bindings = bindings }

    /// The context of a store location as it is on disk.
    public init(store: CertificateStore) throws {
        self.init(bindings: try store.read(ServiceBindings.self))
    }
}
