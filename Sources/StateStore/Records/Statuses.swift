/// The lifecycle of a run: `queued → running → succeeded | failed | cancelled`,
/// `cancelling` while a cancel is in flight. Retries move a finished-unsuccessful
/// run (or one whose worker died) back to `queued` for its next attempt.
public enum RunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, cancelling, succeeded, failed, cancelled

    /// True for `succeeded`, `failed` and `cancelled`.
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }

    /// The statuses this one may change to. This table is the only place run
    /// transitions are decided; the store refuses anything else.
    public var allowedNext: Set<RunStatus> {
        switch self {
        case .queued: [.running, .cancelled, .failed]
        case .running: [.succeeded, .failed, .cancelling, .cancelled, .queued]
        case .cancelling: [.cancelled, .failed, .succeeded, .queued]
        case .failed, .cancelled: [.queued]
        case .succeeded: []
        }
    }

    /// Whether changing to `next` is allowed.
    public func canChange(to next: RunStatus) -> Bool { allowedNext.contains(next) }
}

/// The lifecycle of one action inside a run.
public enum ActionRunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case pending, running, succeeded, failed, cancelled, skipped

    /// The statuses this one may change to (see ``RunStatus/allowedNext``).
    public var allowedNext: Set<ActionRunStatus> {
        switch self {
        case .pending: [.running, .skipped, .cancelled]
        case .running: [.succeeded, .failed, .cancelled, .pending]
        case .failed, .cancelled, .skipped: [.running, .pending]
        case .succeeded: []
        }
    }

    /// Whether changing to `next` is allowed.
    public func canChange(to next: ActionRunStatus) -> Bool { allowedNext.contains(next) }
}

/// The lifecycle of one step: recorded `running` before it executes and
/// `succeeded`/`failed` when it ends; a step answered from an earlier
/// attempt's record is written once as `replayed`.
public enum StepStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running, succeeded, failed, replayed

    /// The statuses this one may change to.
    public var allowedNext: Set<StepStatus> {
        switch self {
        case .running: [.succeeded, .failed]
        case .succeeded, .failed, .replayed: []
        }
    }

    /// Whether changing to `next` is allowed.
    public func canChange(to next: StepStatus) -> Bool { allowedNext.contains(next) }
}
