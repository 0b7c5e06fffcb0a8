public import Foundation

/// How one attempt of a run ended, kept when it ended and never changed:
/// a retry overwrites the run's own status and error, not its attempts' ends.
///
/// An attempt ends when its run goes to `succeeded`, `failed` or
/// `cancelled` (the `run_ends` outbox the completion webhooks read). An
/// attempt that never reached an end has none: a flow's own retry
/// (`@flow(retries=N)`) and a run taken over after its worker died hand the
/// run straight to the next attempt.
public struct AttemptEnd: Sendable, Hashable {
    /// The attempt that ended (1, 2, ...).
    public var attempt: Int
    /// `succeeded`, `failed` or `cancelled`.
    public var status: RunStatus
    /// The run's error when the attempt ended (JSON, as ``RunRecord/errorJSON``); nil if none.
    public var errorJSON: String?
    /// When it ended, by the store's clock.
    public var endedAt: Date

    /// Creates the record from its fields (the stores build it from their rows).
    public init(attempt: Int, status: RunStatus, errorJSON: String?, endedAt: Date) {
        self.attempt = attempt
        self.status = status
        self.errorJSON = errorJSON
        self.endedAt = endedAt
    }
}
