public import ActionHost

/// Runs one action function and serves its calls through a handler: the
/// Python host (``ActionRunner``) in production, a scripted double in tests.
///
/// Contract: every call the action makes reaches `handler` (in the order the
/// action makes them, concurrent ones possibly interleaved); the outcome
/// says how the action ended. Cancelling the calling task stops the action
/// and ends it `cancelled`. Never throws: failures are outcomes.
public protocol ActionExecuting: Sendable {
    /// Runs `invocation` to its end.
    func run(_ invocation: ActionInvocation, handler: some ActionCallHandler) async -> ActionOutcome
}

extension ActionRunner: ActionExecuting {}
