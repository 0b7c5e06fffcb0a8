import FlowRunner
import Foundation
import StateStore
import Synchronization

/// Renews a claimed run's lease while its attempt works (a heartbeat every
/// third of the lease) and stops the attempt when the lease is lost: another
/// worker recovered the run, or renewals kept failing until the lease ran out.
struct LeaseKeeper {
    let store: any StateStore
    let runID: RecordID
    /// The attempt being worked: a renewal after the run was claimed again (even by this owner) fails.
    let attempt: Int
    let owner: LeaseOwner
    let leaseDuration: Duration
    /// Told of each renewal and of a lost lease, so the attempt's calls are fenced.
    let fence: LeaseFence

    /// Heartbeats until cancelled. Returns why the lease was given up (after
    /// cancelling `attempt`), or nil when it was held to the end.
    func keep(cancelling attempt: Task<AttemptOutcome, any Error>) async -> String? {
        let clock = ContinuousClock()
        var lastRenewal = clock.now
        var lastProblem: StateStoreError?
        while !Task.isCancelled {
            try? await Task.sleep(for: leaseDuration / 3)
            if Task.isCancelled { return nil }
            let asked = clock.now
            do {
                if try await store.renewLease(runID: runID, owner: owner, attempt: self.attempt, leaseDuration: leaseDuration) {
                    fence.renewed(askedAt: asked)
                    lastRenewal = clock.now
                    lastProblem = nil
                    continue
                }
                let reason = "the lease on run \(runID) was lost: another worker holds it, or it ended"
                fence.revoke(reason)
                attempt.cancel()
                return reason
            } catch {
                lastProblem = error
            }
            // Renewals fail (the store is unreachable): once the lease has run
            // out, another worker may take the run over, so this one must stop.
            if clock.now - lastRenewal >= leaseDuration {
                let reason = "the lease on run \(runID) could not be renewed for \(leaseDuration) (\(lastProblem?.description ?? "no answer")); the run is left to recovery"
                fence.revoke(reason)
                attempt.cancel()
                return reason
            }
        }
        return nil
    }
}
