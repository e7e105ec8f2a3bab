import Foundation

/// `<location>/probes.json`: the live endpoints `audit --probe` checks (written by `probe ADDRESS --save`).
public struct ProbeEndpoints: LocationDocument, Equatable {
    static let fileName = "probes.json"
    /// Service addresses as `probe` takes them: `smtp://127.0.0.1:25`, `imaps://mail.contoso.com`, ...
    public var endpoints: [String] = []
    public init() {}

    /// The saved endpoints, parsed (one that no longer parses is an error naming the file).
    public func targets() throws -> [Prober.Target] { try endpoints.map(Prober.Target.init(parsing:)) }
}

extension StoreLocation {
    /// The endpoints `audit --probe` checks.
    public func probeEndpoints() throws -> ProbeEndpoints { try read(ProbeEndpoints.self) }

    /// Remembers `target` for `audit --probe` (once; in its canonical form), as one operation.
    public func saveProbeEndpoint(_ target: Prober.Target, now: Date = Date()) throws -> OperationOutcome<Bool> {
        try perform(now: now, changed: { $0 }) {
            var document = try read(ProbeEndpoints.self)
            guard !document.endpoints.contains(target.description) else { return false }
            document.endpoints.append(target.description)
            try write(document)
            return true
        }
    }
}
