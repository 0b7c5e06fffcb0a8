public import FlowModel

/// Follows a run as it works (live progress in a terminal, events for a
/// server). Called from the engine's tasks: implementations must be
/// thread-safe. Every method has a default that does nothing.
public protocol RunObserver: Sendable {
    /// An action starts (attempt is the action's own attempt count).
    func actionStarted(action: String, mode: ActionMode, attempt: Int)
    /// An action is skipped: it succeeded in an earlier attempt.
    func actionSkipped(action: String, mode: ActionMode)
    /// A step starts running (replayed steps are reported by ``stepEnded``).
    func stepStarted(action: String, seq: Int, kind: StepKind, name: String, argsJSON: String)
    /// A step ended: `status` is succeeded, failed or replayed.
    func stepEnded(action: String, seq: Int, kind: StepKind, name: String, status: String, durationMilliseconds: Double, error: String?)
    /// An action ended: `status` is succeeded, failed or cancelled.
    func actionEnded(action: String, status: String, error: String?)
    /// The action logged a line.
    func logged(action: String?, level: String, logger: String, message: String)
    /// An automatic retry is scheduled.
    func retryScheduled(attempt: Int, delaySeconds: Double, reason: String)
    /// The run waits for run `blocker` of its deployment (`reason` says why).
    func waiting(for blocker: Int64, reason: String)
}

extension RunObserver {
    public func actionStarted(action: String, mode: ActionMode, attempt: Int) {}
    public func actionSkipped(action: String, mode: ActionMode) {}
    public func stepStarted(action: String, seq: Int, kind: StepKind, name: String, argsJSON: String) {}
    public func stepEnded(action: String, seq: Int, kind: StepKind, name: String, status: String, durationMilliseconds: Double, error: String?) {}
    public func actionEnded(action: String, status: String, error: String?) {}
    public func logged(action: String?, level: String, logger: String, message: String) {}
    public func retryScheduled(attempt: Int, delaySeconds: Double, reason: String) {}
    public func waiting(for blocker: Int64, reason: String) {}
}
