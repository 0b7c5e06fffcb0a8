public import StateStore
import Synchronization

/// How long this worker may still act for a run it claimed: the lease the
/// store granted at the claim or the last renewal, counted on this
/// machine's clock from when that request was *sent*. The store set the
/// lease's end from its own clock when the request *arrived*, so the lease
/// has certainly not ended while ``isHeld`` is true (clock rates assumed
/// equal; a tenth of the lease is kept as a margin), whatever the two
/// clocks read and however long this process was stopped.
///
/// Steps are fenced with it: a worker that was paused (SIGSTOP, a frozen
/// VM, a long GC-like stall of its machine) past its lease records and runs
/// no further call, even before its heartbeat learns that another worker
/// took the run over (as Chubby's and etcd's leases are used).
public final class LeaseFence: Sendable {
    private struct State {
        var validUntil: ContinuousClock.Instant
        var revoked = false
    }

    private let state: Mutex<State>
    /// The lease the store grants at each claim or renewal.
    public let leaseDuration: Duration
    /// Renews the lease in the store: true when it was still this worker's
    /// (nil: a fence that has run out stays closed).
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

    /// True while the lease certainly holds; once it may have run out, asks
    /// the store to renew it (a worker that was only paused, and whose run
    /// nobody took over, goes on). A refused renewal revokes the fence; a
    /// store that cannot answer leaves it closed for now.
    public func holdsOrRenews() async -> Bool {
        if isHeld { return true }
        guard let renew, !state.withLock({ $0.revoked }) else { return false }
        let asked = ContinuousClock.now
        do {
            if try await renew() {
                renewed(askedAt: asked)
                return true
            }
            revoke()
        } catch {}
        return false
    }

    /// A renewal asked for at `askedAt` succeeded: the lease is held until a
    /// lease later (it never moves back, and a revoked fence stays revoked).
    public func renewed(askedAt: ContinuousClock.Instant) {
        state.withLock { state in
            state.validUntil = max(state.validUntil, askedAt + Self.usable(leaseDuration))
        }
    }

    /// The lease is known lost (a renewal was refused: another worker holds the run, or it ended).
    public func revoke() {
        state.withLock { $0.revoked = true }
    }

    /// True while the lease certainly still holds.
    public var isHeld: Bool {
        let now = ContinuousClock.now
        return state.withLock { !$0.revoked && now < $0.validUntil }
    }

    /// Why a call is refused once ``isHeld`` is false, naming `runID`.
    public func refusal(runID: RecordID) -> String {
        let revoked = state.withLock { $0.revoked }
        return revoked
            ? "the lease on run \(runID) was lost (another worker holds it, or it ended); this worker records and runs nothing more"
            : "the lease on run \(runID) may have run out: no heartbeat renewed it within \(leaseDuration) "
                + "(was this process paused?); this worker records and runs nothing more, the run is left to recovery"
    }

    private static func usable(_ lease: Duration) -> Duration {
        lease - lease / 10
    }
}
