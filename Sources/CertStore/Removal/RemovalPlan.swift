/// What removing one certificate would do, and what would break.
public struct RemovalPlan: Sendable {
    public let entry: StoreEntry
    /// Each thing that would break, naming the dependent. Removal is refused while any exists (unless forced).
    public var blockers: [String] = []
    /// Blockers `--force` does not override (deleting a key another certificate uses).
    public var hardBlockers: [String] = []
    /// What changes for others, e.g. "connector X uses Y from now on".
    public var notes: [String] = []
    /// Whether the key file goes to the trash too.
    public var deletesKey = false

    public var isAllowed: Bool { blockers.isEmpty && hardBlockers.isEmpty }
}
