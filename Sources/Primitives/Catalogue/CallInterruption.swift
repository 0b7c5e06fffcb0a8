import Synchronization

/// Why in-flight primitive calls are being cancelled, as the engine tells
/// them: an action stopped on purpose (a cancel, a timeout) or cut off (its
/// Python host died). One per action attempt, shared by its calls.
///
/// A call stopped on purpose undoes what it started (`execute_commands`
/// deletes its job). A call cut off leaves it: its step stays `running`, and
/// the next attempt adopts the job (DESIGN.md, "Steps, checkpoints and
/// replay"), so one step never has two live jobs.
public final class CallInterruption: Sendable {
    private let cutOff = Mutex(false)

    public init() {}

    /// Marks the calls as cut off; call before cancelling them.
    public func markCutOff() { cutOff.withLock { $0 = true } }

    /// True once the calls were cut off rather than stopped on purpose.
    public var isCutOff: Bool { cutOff.withLock { $0 } }
}
