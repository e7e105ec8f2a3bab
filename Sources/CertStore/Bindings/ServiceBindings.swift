/// Which certificates each service uses, and the default SMTP certificate (Exchange's internal transport
/// certificate). Kept in `<location>/bindings.json`.
public struct ServiceBindings: LocationDocument, Equatable {
    static let fileName = "bindings.json"

    /// Service name (`SMTP`, `IIS`, `IMAP`, `POP`) → thumbprints, in the order they were bound.
    public var services: [String: [String]] = [:]
    /// The certificate SMTP presents by default (internal transport / anonymous TLS).
    public var defaultSmtpCertificate: String?
    /// Service name → the Unix account that runs it (`postfix`, `dovecot`, `www-data`): it alone is given read
    /// access to the service's private key file.
    public var serviceUsers: [String: String]? = nil

    public init() {}

    public func thumbprints(for service: ExchangeService) -> [String] { services[service.rawValue] ?? [] }

    /// The services a certificate is bound to.
    public func services(of thumbprint: String) -> Set<ExchangeService> {
        Set(ExchangeService.allCases.filter { thumbprints(for: $0).contains(thumbprint) })
    }

    public var allBoundThumbprints: Set<String> { Set(services.values.flatMap { $0 }) }

    mutating func bind(_ thumbprint: String, to service: ExchangeService) {
        var list = thumbprints(for: service)
        if !list.contains(thumbprint) { list.append(thumbprint) }
        services[service.rawValue] = list
    }

    mutating func unbind(_ thumbprint: String, from service: ExchangeService) {
        let list = thumbprints(for: service).filter { $0 != thumbprint }
        services[service.rawValue] = list.isEmpty ? nil : list
    }
}
