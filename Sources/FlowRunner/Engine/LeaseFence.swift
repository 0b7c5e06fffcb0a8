public import StateStore
import Synchronization

/// How long this worker may still act for a run it claimed: the lease the
/// store granted at the claim or the last renewal, counted on this
/// machine's clock from when that request was *sent*. The store set the
/// lease's end from its own clock when the request *arrived*, so the lease
/// has not ended while ``isHeld`` is true, whatever the two clocks read and
/// however long this process was stopped (assuming the clocks run at the
/// same rate; a tenth of the lease is kept as a margin).
///
/// Calls are fenced with it: a worker that was paused (SIGSTOP, Ctrl-Z, a
/// frozen VM) past its lease asks the store before its action's next call
/// is recorded or run (``holdsOrRenews()``). Once the store refuses or
/// cannot answer, the fence is lost for good and ``whenLost(_:)`` stops
/// the attempt, which then writes nothing more and is left to recovery:
/// the same ending as a heartbeat that finds the lease gone.
///
/// A call that passed the fence is not stopped halfway: the fence bounds
/// when a call may start, as a heartbeat does.
public final class LeaseFence: Sendable {
    private struct State {
        var validUntil: ContinuousClock.Instant
        var lost: String?
        var onLost: (@Sendable () -> Void)?
    }

    private let state: Mutex<State>
    /// The lease the store grants at each claim or renewal.
    public let leaseDuration: Duration
    /// Renews the lease in the store: true when it was still this worker's
    /// for this attempt (nil: a fence that has run out is lost).
    private let renew: (@Sendable () async throws(StateStoreError) -> Bool)?

    /// A fence for a lease of `leaseDuration` asked for at `askedAt` (the
    /// claim request's sending time). `renew` renews the lease in the store
    /// (true: still held), for ``holdsOrRenews()``.
    public init(
        askedAt: ContinuousClock.Instant, leaseDuration: Duration, renew: (@Sendable () async throws(StateStoreError) -> Bool)? = nil
    ) {
        self.leaseDuration = leaseDuration
        self.renew = renew
        state = Mutex(State(validUntil: askedAt + Self.usable(leaseDuration)))
    }

    /// A renewal asked for at `askedAt` succeeded: the lease is held until a
    /// lease later (it never moves back, and a lost fence stays lost).
    public func renewed(askedAt: ContinuousClock.Instant) {
        state.withLock { state in
            state.validUntil = max(state.validUntil, askedAt + Self.usable(leaseDuration))
        }
    }

    /// The lease is lost for good, for `reason`: ``whenLost(_:)``'s body runs (once).
    public func revoke(_ reason: String) {
        let body = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.lost == nil else { return nil }
            state.lost = reason
            defer { state.onLost = nil }
            return state.onLost
        }
        body?()
    }

    /// Runs `body` when the lease is lost (at once if it already is).
    public func whenLost(_ body: @escaping @Sendable () -> Void) {
        let lost = state.withLock { state -> Bool in
            if state.lost == nil { state.onLost = body }
            return state.lost != nil
        }
        if lost { body() }
    }

    /// Why the lease was lost; nil while it is not.
    public var lossReason: String? {
        state.withLock { $0.lost }
    }

    /// True while the lease certainly holds.
    public var isHeld: Bool {
        let now = ContinuousClock.now
        return state.withLock { $0.lost == nil && now < $0.validUntil }
    }

    /// True while the lease certainly holds; once it may have run out, asks
    /// the store to renew it for this attempt (a worker that was only
    /// paused, and whose run nobody took over, goes on). A refused renewal,
    /// or a store that cannot answer, loses the fence for good.
    public func holdsOrRenews(runID: RecordID) async -> Bool {
        if isHeld { return true }
        guard let renew, lossReason == nil else {
            revoke("the lease on run \(runID) ran out: nothing renewed it within \(Self.usable(leaseDuration)); this attempt stops and is left to recovery")
            return false
        }
        let asked = ContinuousClock.now
        do {
            if try await renew() {
                renewed(askedAt: asked)
                return true
            }
            revoke("the lease on run \(runID) was lost (another worker holds it, or it ended); this attempt stops")
        } catch {
            revoke("the lease on run \(runID) was not renewed within \(Self.usable(leaseDuration)) (was this process paused?), "
                   + "and the store cannot renew it now (\(error)); this attempt stops and is left to recovery")
        }
        return false
    }

    private static func usable(_ lease: Duration) -> Duration {
        lease - lease / 10
    }
}
