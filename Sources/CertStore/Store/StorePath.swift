/// The stores of a location that certstore manages, by Windows' names.
public enum StoreName: String, Sendable, CaseIterable, Codable {
    /// Personal certificates: the ones services and connectors use (`Cert:\LocalMachine\My`).
    case my = "My"
    /// Intermediate certification authorities.
    case ca = "CA"
    /// Trusted root certification authorities.
    case root = "Root"
    /// Pending certificate requests ("Certificate Enrollment Requests"): each a dummy self-signed certificate
    /// holding the request's key, subject and DNS names until `complete` (or an import) brings the issued one.
    case request = "REQUEST"
}

/// A store inside a location, e.g. `LocalMachine/My`. Accepts PowerShell's `Cert:\LocalMachine\My` too.
public struct StorePath: Sendable, Hashable, CustomStringConvertible, Codable {
    public static let locations = ["LocalMachine", "CurrentUser"]

    public let location: String
    /// Which store of the location.
    public let name: StoreName

    public static let personal = StorePath(trustedLocation: "LocalMachine", name: .my)

    init(trustedLocation location: String, name: StoreName) {
        self.location = location
        self.name = name
    }

    /// The store `name` of the same location.
    public func sibling(_ name: StoreName) -> StorePath { StorePath(trustedLocation: location, name: name) }

    /// `LocalMachine/My`, `LocalMachine\My`, `Cert:\LocalMachine\My`, `cert:/localmachine/my`, or a bare
    /// store name (`My`, `CA`, `Root`, `REQUEST`) in LocalMachine. Names are case-insensitive.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.lowercased().hasPrefix("cert:") { rest = rest.dropFirst(5) }
        let parts = rest.split(whereSeparator: { $0 == "/" || $0 == "\\" }).map(String.init)
        let locationName: String
        let storeName: String
        switch parts.count {
        case 1: (locationName, storeName) = ("LocalMachine", parts[0])
        case 2: (locationName, storeName) = (parts[0], parts[1])
        default:
            throw CertStoreError.usage("not a store: \"\(text)\"", hint: "use LOCATION/STORE, for example LocalMachine/My, LocalMachine/CA or LocalMachine/Root")
        }
        guard let location = Self.locations.first(where: { $0.caseInsensitiveCompare(locationName) == .orderedSame }) else {
            throw CertStoreError.usage("unknown store location \"\(locationName)\"", hint: "locations are \(Self.locations.joined(separator: ", "))")
        }
        guard let name = StoreName.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(storeName) == .orderedSame }) else {
            throw CertStoreError.usage("unknown store \"\(storeName)\"", hint: "stores are \(StoreName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.init(trustedLocation: location, name: name)
    }

    public var description: String { "\(location)/\(name.rawValue)" }

    /// Encoded as its description, `LocalMachine/My`, and decoded with ``init(parsing:)``.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try StorePath(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a store: \(text)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
    /// PowerShell's `PSParentPath` for items of this store.
    public var powerShellPath: String { "Microsoft.PowerShell.Security\\Certificate::\(location)\\\(name.rawValue)" }
}

import Foundation
