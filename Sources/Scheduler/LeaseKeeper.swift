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
    let owner: LeaseOwner
    let leaseDuration: Duration

    /// Heartbeats until cancelled. Returns why the lease was given up (after
    /// cancelling `attempt`), or nil when it was held to the end.
    func keep(cancelling attempt: Task<AttemptOutcome, any Error>) async -> String? {
        let clock = ContinuousClock()
        var lastRenewal = clock.now
        var lastProblem: StateStoreError?
        while !Task.isCancelled {
            try? await Task.sleep(for: leaseDuration / 3)
            if Task.isCancelled { return nil }
            do {
                if try await store.renewLease(runID: runID, owner: owner, leaseDuration: leaseDuration) {
                    lastRenewal = clock.now
                    lastProblem = nil
                    continue
                }
                attempt.cancel()
                return "the lease on run \(runID) was lost: another worker holds it, or it ended"
            } catch {
                lastProblem = error
            }
            // Renewals fail (the store is unreachable): once the lease has run
            // out, another worker may take the run over, so this one must stop.
            if clock.now - lastRenewal >= leaseDuration {
                attempt.cancel()
                return "the lease on run \(runID) could not be renewed for \(leaseDuration) (\(lastProblem?.description ?? "no answer")); the run is left to recovery"
            }
        }
        return nil
    }
}
