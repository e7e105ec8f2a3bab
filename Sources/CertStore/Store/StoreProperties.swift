import Foundation

/// What the store knows about a certificate beyond the certificate itself (Windows keeps these as
/// store properties, not in the certificate): kept in `<THUMBPRINT>.json` beside the `.cer`.
public struct StoreProperties: Sendable, Equatable, Codable {
    /// Windows `FriendlyName`; Exchange requires fewer than 64 characters.
    public var friendlyName: String
    /// Windows `Archived`: hidden from `list` (unless `--include-archived`), from the Exchange view and from
    /// connector resolution. `handover` archives the certificate it hands over from.
    public var archived: Bool
    /// Whether the private key may be exported (Windows: the key's exportable flag, set at import).
    public var exportable: Bool
    public var importedAt: Date?
    /// The file the certificate was imported from.
    public var source: String?
    /// For a root in `Root`: the kind Exchange reports as `RootCAType` (ThirdParty when not set).
    public var rootCAType: ExchangeCertificate.RootCAType?
    /// For a pending request made by `renew`: the certificate it renews. Completing the request hands over from
    /// that certificate to the issued one (``Handover``).
    public var renews: Thumbprint?
    /// For a certificate archived by `handover`: the certificate that took its place (`handover NEW OLD` undoes it).
    public var supersededBy: Thumbprint?
    /// When an end-entity certificate was put into `My` without its private key on purpose (`import` or
    /// `complete` with `--allow-keyless`): the key is on another machine, and until it is imported here the
    /// certificate is the KB 4495258 twin `audit` reports as CRITICAL. Nil for every other certificate.
    public var keylessImportedAt: Date?

    public static let maxFriendlyNameLength = 63

    public init(friendlyName: String = "", archived: Bool = false, exportable: Bool = false,
                importedAt: Date? = nil, source: String? = nil) {
        self.friendlyName = friendlyName
        self.archived = archived
        self.exportable = exportable
        self.importedAt = importedAt
        self.source = source
    }

    public init(from decoder: any Decoder) throws {
        // Missing keys take defaults, so a hand-written or older file still reads.
        let container = try decoder.container(keyedBy: CodingKeys.self)
        friendlyName = try container.decodeIfPresent(String.self, forKey: .friendlyName) ?? ""
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived) ?? false
        exportable = try container.decodeIfPresent(Bool.self, forKey: .exportable) ?? false
        importedAt = try container.decodeIfPresent(Date.self, forKey: .importedAt)
        source = try container.decodeIfPresent(String.self, forKey: .source)
        rootCAType = try container.decodeIfPresent(ExchangeCertificate.RootCAType.self, forKey: .rootCAType)
        renews = try container.decodeIfPresent(Thumbprint.self, forKey: .renews)
        supersededBy = try container.decodeIfPresent(Thumbprint.self, forKey: .supersededBy)
        keylessImportedAt = try container.decodeIfPresent(Date.self, forKey: .keylessImportedAt)
    }

    /// Checks a friendly name a user typed: under 64 characters, no control characters.
    public static func validateFriendlyName(_ name: String) throws -> String {
        guard name.count <= maxFriendlyNameLength else {
            throw CertStoreError.usage("the friendly name is \(name.count) characters long; it must be under 64",
                                       hint: "choose a shorter --friendly-name")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CertStoreError.usage("the friendly name contains control characters")
        }
        return name
    }

    /// A friendly name found in a file: control characters dropped, cut to 63 characters.
    static func sanitizeFriendlyName(_ name: String) -> String {
        let cleaned = String(String.UnicodeScalarView(name.unicodeScalars.filter { $0.properties.generalCategory != .control }))
        return String(cleaned.prefix(maxFriendlyNameLength))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Fractional seconds keep import order visible (connector resolution follows it, like Windows'
        // store enumeration order).
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
        }
        return decoder
    }()

    func encoded() throws -> [UInt8] {
        Array(try Self.encoder.encode(self)) + [0x0A]
    }
}
