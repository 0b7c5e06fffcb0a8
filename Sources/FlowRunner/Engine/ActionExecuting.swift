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
    /// How action code is confined, as recorded with each action run
    /// (`user NAME`, `unisolated`); nil when there is nothing to record.
    var isolationLabel: String? { get }
}

extension ActionExecuting {
    public var isolationLabel: String? { nil }
}

extension ActionRunner: ActionExecuting {
    public var isolationLabel: String? {
        switch isolation {
        case .user(let user): "user \(user.name)"
        case .unisolated: "unisolated"
        }
    }
}
