/// One attribute of a relative distinguished name, e.g. `2.5.4.3` = "mail.contoso.com".
public struct NameAttribute: Sendable, Equatable, Codable {
    public let oid: String
    public let value: String
    /// The value is not a string: `value` is `#` and the uppercase hex of its DER encoding, which Windows
    /// prints as it is (never quoted).
    public let isHexEncoded: Bool

    public init(oid: String, value: String, isHexEncoded: Bool = false) {
        self.oid = oid
        self.value = value
        self.isHexEncoded = isHexEncoded
    }

    enum CodingKeys: String, CodingKey { case oid, value, isHexEncoded }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(oid: try container.decode(String.self, forKey: .oid), value: try container.decode(String.self, forKey: .value),
                  isHexEncoded: try container.decodeIfPresent(Bool.self, forKey: .isHexEncoded) ?? false)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(oid, forKey: .oid)
        try container.encode(value, forKey: .value)
        if isHexEncoded { try container.encode(true, forKey: .isHexEncoded) }
    }
}

/// An X.500 name as encoded (first RDN first), formatted the way Windows shows it.
public struct DistinguishedName: Sendable, Equatable, Codable {
    /// Relative distinguished names in encoded order; each holds one or more attributes in encoded order.
    public let rdns: [[NameAttribute]]
    /// The Windows form (`X500DistinguishedName.Name`): RDNs reversed, `", "` between them, `" + "` inside a
    /// multi-valued RDN, Windows labels (`S=`, `E=`, `OID.x.y=`), and Windows quoting (no backslashes).
    /// Computed once: listings print it for every certificate.
    public let windowsString: String

    public init(_ rdns: [[NameAttribute]]) {
        self.rdns = rdns
        self.windowsString = rdns.reversed().map { rdn in
            rdn.map { "\(Self.label(forOID: $0.oid))=\($0.isHexEncoded ? $0.value : Self.quote($0.value))" }.joined(separator: " + ")
        }.joined(separator: ", ")
    }

    /// From the store index, which keeps the formatted string beside the attributes.
    init(rdns: [[NameAttribute]], windowsString: String) {
        self.rdns = rdns
        self.windowsString = windowsString
    }

    enum CodingKeys: String, CodingKey { case rdns }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.container(keyedBy: CodingKeys.self).decode([[NameAttribute]].self, forKey: .rdns))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rdns, forKey: .rdns)
    }

    /// The value of the last (most specific) common name, if any.
    public var commonName: String? {
        rdns.reversed().lazy.flatMap { $0 }.first { $0.oid == "2.5.4.3" }?.value
    }

    /// Windows' names for attribute OIDs: the first name crypt32 has for the OID in its RDN-attribute group
    /// (`CryptFindOIDInfo(…, CRYPT_RDN_ATTR_OID_GROUP_ID)`, which `CertNameToStr` uses). The names are those
    /// of dotnet/runtime's `OidLookup` table (every wincrypt.h OID run through Windows 10) that are RDN
    /// attributes, plus the TPM attributes of wincrypt.h's `szOID_RDN_TPM_*`. Everything else (businessCategory,
    /// the EV jurisdiction OIDs, unstructuredName, UID, wincrypt.h's TCG platform attributes
    /// `szOID_RDN_TCG_PLATFORM_*` 2.23.133.2.4–6, which that table — made from every wincrypt.h OID on Windows 10 —
    /// has no name for, …) prints as `OID.x`, as on Windows.
    static let labels: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.7": "L", "2.5.4.8": "S", "2.5.4.6": "C",
        "1.2.840.113549.1.9.1": "E", "2.5.4.9": "STREET", "2.5.4.5": "SERIALNUMBER", "2.5.4.4": "SN",
        "2.5.4.17": "PostalCode", "2.5.4.20": "Phone", "2.5.4.18": "POBox", "0.9.2342.19200300.100.1.25": "DC",
        "2.5.4.42": "G", "2.5.4.43": "I", "2.5.4.12": "T", "2.5.4.13": "Description",
        "2.5.4.24": "X21Address", "2.5.4.46": "dnQualifier",
        "2.23.133.2.1": "TPMManufacturer", "2.23.133.2.2": "TPMModel", "2.23.133.2.3": "TPMVersion",
    ]

    public static func label(forOID oid: String) -> String { labels[oid] ?? "OID.\(oid)" }

    /// Windows quotes a value that is empty, starts or ends with white space, or holds `, + = " \n < > # ;`;
    /// an embedded `"` is doubled. (`\r` is deliberately not in the list: it is not in Windows' either.)
    private static let special: Set<Unicode.Scalar> = [",", "+", "=", "\"", "\n", "<", ">", "#", ";"]

    /// A byte that sends a value down the careful path: non-ASCII, control, or one of Windows' specials.
    private static func needsQuoting(_ byte: UInt8) -> Bool {
        switch byte {
        case 0..<0x20, 0x7F...0xFF, UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "\""),
             UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "#"), UInt8(ascii: ";"): return true
        default: return false
        }
    }

    static func quote(_ value: String) -> String {
        // Fast path: printable ASCII without a special character or edge space needs no quotes.
        let utf8 = value.utf8
        if let first = utf8.first, let last = utf8.last, first != 0x20, last != 0x20,
           !utf8.contains(where: Self.needsQuoting) {
            return value
        }
        let special = Self.special
        func isWhite(_ s: Unicode.Scalar?) -> Bool {
            guard let s else { return false }
            return s == " " || (0x09...0x0D).contains(s.value)
        }
        let scalars = value.unicodeScalars
        let needsQuotes = scalars.isEmpty || isWhite(scalars.first) || isWhite(scalars.last)
            || scalars.contains(where: special.contains)
        guard needsQuotes else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension DistinguishedName: CustomStringConvertible {
    public var description: String { windowsString }
}
