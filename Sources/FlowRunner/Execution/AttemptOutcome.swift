public import Foundation
public import StateStore

/// How one claimed attempt of a run ended (``Engine/runAttempt(_:owner:lease:observer:)``).
public enum AttemptOutcome: Sendable, Hashable {
    /// The run reached a final status (or `cancelling` became `cancelled`).
    case finished(RunRecord)
    /// An automatic retry (`@flow(retries=)`) queued the run's next attempt,
    /// due at `notBefore` (nil: at once).
    case retryScheduled(RunRecord, notBefore: Date?)
    /// This worker no longer holds the run (its lease was lost, or the
    /// attempt was stopped before the run ended): it wrote nothing more, and
    /// the run is left to whoever holds it or to recovery.
    case released(RunRecord, reason: String)

    /// The run's record as the attempt left it.
    public var run: RunRecord {
        switch self {
        case .finished(let run), .retryScheduled(let run, _), .released(let run, _): run
        }
    }
}
