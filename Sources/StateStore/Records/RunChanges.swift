/// What a caller of ``StateStore/waitForChange(_:ofRun:timeout:)`` waits for
/// on one run.
public struct RunChanges: OptionSet, Sendable, Hashable {
    /// The changes as bits (``status`` is bit 0, ``logs`` bit 1).
    public let rawValue: Int

    /// The changes whose bits `rawValue` sets.
    public init(rawValue: Int) {
        self.rawValue = rawValue
    }

    /// The run's status changed (claimed, cancel requested, ended, queued again).
    public static let status = RunChanges(rawValue: 1 << 0)
    /// Log lines of the run were appended.
    public static let logs = RunChanges(rawValue: 1 << 1)
}
