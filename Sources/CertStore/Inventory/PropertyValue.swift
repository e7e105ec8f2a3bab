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
    /// `Services` of every bound certificate, worked out once per listing rather than once per certificate.
    private let servicesByThumbprint: [Thumbprint: PropertyValue]
    private static let unbound = PropertyValue.flags(names: [], mask: ExchangeService.mask([]))

    public init(bindings: ServiceBindings = ServiceBindings()) {
        self.bindings = bindings
        var services: [Thumbprint: PropertyValue] = [:]
        for thumbprint in bindings.allBoundThumbprints {
            let bound = bindings.services(of: thumbprint)
            services[thumbprint] = .flags(names: bound.sorted().map(\.rawValue), mask: ExchangeService.mask(bound))
        }
        servicesByThumbprint = services
    }

    /// No bindings: for values that do not depend on them.
    static let none = PropertyContext()

    /// The `Services` value of the certificate with `thumbprint`.
    func services(of thumbprint: Thumbprint) -> PropertyValue { servicesByThumbprint[thumbprint] ?? Self.unbound }

    /// The context of a store location as it is on disk.
    public init(store: CertificateStore) throws {
        self.init(bindings: try store.read(ServiceBindings.self))
    }
}
