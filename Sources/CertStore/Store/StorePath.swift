/// A store inside a location, e.g. `LocalMachine/My`. Accepts PowerShell's `Cert:\LocalMachine\My` too.
public struct StorePath: Sendable, Hashable, CustomStringConvertible, Codable {
    public static let locations = ["LocalMachine", "CurrentUser"]
    /// The stores certstore manages: personal certificates, intermediate CAs, trusted roots.
    public static let stores = ["My", "CA", "Root"]

    public let location: String
    public let store: String

    public static let personal = StorePath(trustedLocation: "LocalMachine", store: "My")

    init(trustedLocation location: String, store: String) {
        self.location = location
        self.store = store
    }

    public func sibling(_ store: String) -> StorePath { StorePath(trustedLocation: location, store: store) }

    /// `LocalMachine/My`, `LocalMachine\My`, `Cert:\LocalMachine\My`, `cert:/localmachine/my`, or a bare
    /// store name (`My`, `CA`, `Root`) in LocalMachine. Names are case-insensitive.
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
        guard let store = Self.stores.first(where: { $0.caseInsensitiveCompare(storeName) == .orderedSame }) else {
            throw CertStoreError.usage("unknown store \"\(storeName)\"", hint: "stores are \(Self.stores.joined(separator: ", "))")
        }
        self.init(trustedLocation: location, store: store)
    }

    public var description: String { "\(location)/\(store)" }
    /// PowerShell's `PSParentPath` for items of this store.
    public var powerShellPath: String { "Microsoft.PowerShell.Security\\Certificate::\(location)\\\(store)" }
}

import Foundation
