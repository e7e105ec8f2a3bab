/// Which certificates each service uses, and the default SMTP certificate (Exchange's internal transport
/// certificate). Kept in `<location>/bindings.json`:
///
/// ```json
/// { "defaultSmtpCertificate" : "<THUMBPRINT>",
///   "serviceUsers" : { "SMTP" : "postfix" },
///   "services" : { "SMTP" : [ "<THUMBPRINT>", … ] } }
/// ```
///
/// The file keeps service names and thumbprints as strings; in memory they are ``ExchangeService`` and
/// ``Thumbprint``, so a name certstore does not know is refused when the file is read, never carried along.
public struct ServiceBindings: LocationDocument, Equatable {
    static let fileName = "bindings.json"

    /// Each service's certificates, in the order they were bound.
    public var services: [ExchangeService: [Thumbprint]] = [:]
    /// The certificate SMTP presents by default (internal transport / anonymous TLS).
    public var defaultSmtpCertificate: Thumbprint?
    /// The Unix account that runs a service (`postfix`, `dovecot`, `www-data`): it alone is given read access to
    /// the service's private key file.
    public var serviceUsers: [ExchangeService: String] = [:]

    public init() {}

    /// The certificates bound to `service`, in the order they were bound.
    public func thumbprints(for service: ExchangeService) -> [Thumbprint] { services[service] ?? [] }

    /// The services a certificate is bound to.
    public func services(of thumbprint: Thumbprint) -> Set<ExchangeService> {
        Set(ExchangeService.allCases.filter { thumbprints(for: $0).contains(thumbprint) })
    }

    /// Every certificate bound to any service.
    public var allBoundThumbprints: Set<Thumbprint> { Set(services.values.flatMap { $0 }) }

    mutating func bind(_ thumbprint: Thumbprint, to service: ExchangeService) {
        var list = thumbprints(for: service)
        if !list.contains(thumbprint) { list.append(thumbprint) }
        services[service] = list
    }

    mutating func unbind(_ thumbprint: Thumbprint, from service: ExchangeService) {
        let list = thumbprints(for: service).filter { $0 != thumbprint }
        services[service] = list.isEmpty ? nil : list
    }

    // MARK: the file's form: service names and thumbprints as strings, unchanged since bindings.json began

    private enum CodingKeys: String, CodingKey {
        case services, defaultSmtpCertificate, serviceUsers
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func service(_ name: String, _ key: CodingKeys) throws -> ExchangeService {
            guard let service = ExchangeService(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container,
                                                       debugDescription: "\"\(name)\" is not a service (SMTP, IIS, IMAP, POP)")
            }
            return service
        }
        for (name, list) in try container.decode([String: [Thumbprint]].self, forKey: .services) {
            services[try service(name, .services)] = list
        }
        defaultSmtpCertificate = try container.decodeIfPresent(Thumbprint.self, forKey: .defaultSmtpCertificate)
        for (name, user) in try container.decodeIfPresent([String: String].self, forKey: .serviceUsers) ?? [:] {
            serviceUsers[try service(name, .serviceUsers)] = user
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Dictionary(uniqueKeysWithValues: services.map { ($0.key.rawValue, $0.value.map(\.value)) }), forKey: .services)
        try container.encodeIfPresent(defaultSmtpCertificate, forKey: .defaultSmtpCertificate)
        if !serviceUsers.isEmpty {
            try container.encode(Dictionary(uniqueKeysWithValues: serviceUsers.map { ($0.key.rawValue, $0.value) }), forKey: .serviceUsers)
        }
    }
}
