/// A certificate thumbprint: 40 uppercase hex digits (SHA-1 of the DER).
public struct Thumbprint: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let value: String

    /// Accepts what admins paste: any case, spaces, colons, hyphens, tabs, and the invisible
    /// U+200E/U+200F/U+FEFF marks the Windows certificate dialog copies along. Anything else is an error,
    /// never a file name or a pattern.
    public init(parsing text: String) throws {
        let invisible: Set<Unicode.Scalar> = ["\u{200E}", "\u{200F}", "\u{FEFF}", "\u{200B}", "\u{00A0}"]
        let separators: Set<Unicode.Scalar> = [" ", ":", "-", "\t", "\n", "\r"]
        var digits = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !invisible.contains(scalar) && !separators.contains(scalar) {
            guard scalar.isASCII, scalar.properties.isASCIIHexDigit else {
                throw CertStoreError.usage(
                    "not a thumbprint: \"\(text)\" (character \"\(scalar.escaped(asASCII: true))\" is not a hex digit)",
                    hint: "give the 40 hex digits of the certificate's SHA-1 thumbprint, as `certstore list` shows it")
            }
            digits.append(scalar)
        }
        guard digits.count == 40 else {
            throw CertStoreError.usage(
                "not a thumbprint: \"\(text)\" has \(digits.count) hex digits, a thumbprint has 40",
                hint: "copy the whole Thumbprint column from `certstore list`")
        }
        value = String(digits).uppercased()
    }

    /// For values the library computed itself.
    init(trusted value: String) { self.value = value }

    /// Exactly what certstore writes — 40 uppercase hexadecimal digits, nothing else — or nil. For names read
    /// back from disk (file names, trash manifests), where anything else means someone else wrote them.
    public init?(canonical text: String) {
        // On every record a listing decodes from the index: one pass over the contiguous bytes (a closure per byte
        // through `allSatisfy` cost 1.5% of a warm 10,000-certificate JSON listing).
        let valid = text.utf8.withContiguousStorageIfAvailable(Self.isCanonical) ?? Self.isCanonical(Array(text.utf8))
        guard valid else { return nil }
        value = text
    }

    private static func isCanonical<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        guard bytes.count == 40 else { return false }
        for byte in bytes where !(byte &- 0x30 < 10 || byte &- 0x41 < 6) { return false }
        return true
    }

    /// `<THUMBPRINT>.cer`: the name of the certificate's file in a store.
    public var certificateFileName: String { value + ".cer" }
    /// `<THUMBPRINT>.json`: the name of the file beside it that holds its store properties.
    public var propertiesFileName: String { value + ".json" }
    /// The first eight digits, as trash IDs and service versions show them.
    public var shortForm: String { String(value.prefix(8)) }

    public var description: String { value }
    public static func < (lhs: Thumbprint, rhs: Thumbprint) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        self = try Thumbprint(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
