import Foundation
import Synchronization

/// A request to stop a long operation (an import of thousands of files) at the next safe point: between
/// files while reading, between files while staging. Once an operation starts committing (renaming staged
/// files into place), it finishes: a half-renamed import would be worse than a late stop.
public final class Cancellation: Sendable {
    private let reason = Atomic<Int32>(0)

    public init() {}

    /// Asks the operation to stop; `signal` says why (SIGINT, SIGTERM), 0 for no signal.
    public func cancel(signal: Int32 = 0) {
        _ = reason.compareExchange(expected: 0, desired: signal == 0 ? -1 : signal, ordering: .relaxed)
    }

    public var isCancelled: Bool { reason.load(ordering: .relaxed) != 0 }

    /// The signal that cancelled the operation (nil when none did).
    public var signal: Int32? {
        let value = reason.load(ordering: .relaxed)
        return value > 0 ? value : nil
    }

    /// Throws `CertStoreError.interrupted` when cancelled.
    func check(_ what: @autoclosure () -> String) throws {
        guard isCancelled else { return }
        throw CertStoreError(.interrupted, "interrupted\(signal.map { " by signal \($0)" } ?? ""): \(what())",
                             hint: "run the same command again to do it all")
    }
}
