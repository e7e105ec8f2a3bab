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
    /// Judges `TlsUsable`/`TlsProblem` (nil: those properties are null).
    public let tls: TLSUsabilityJudge?
    /// `Services` of every bound certificate, worked out once per listing rather than once per certificate.
    private let servicesByThumbprint: [Thumbprint: PropertyValue]
    private static let unbound = PropertyValue.flags(names: [], mask: ExchangeService.mask([]))

    public init(bindings: ServiceBindings = ServiceBindings(), tls: TLSUsabilityJudge? = nil) {
        self.bindings = bindings
        self.tls = tls
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

    /// The context of a store location as it is on disk; TLS usability judged at `securityLevel` (the system's
    /// when nil).
    public init(store: StoreLocation, securityLevel: Int? = nil) throws {
        self.init(bindings: try store.read(ServiceBindings.self), tls: TLSUsabilityJudge(store: store, securityLevel: securityLevel))
    }
}
