import FlowModel
public import Foundation
public import StateStore

/// Why a run or step that has not finished is where it is, in words for
/// operators (DESIGN.md, "Runner service": every run and step that is not
/// finished carries a `waiting_reason`):
/// - a queued run: `retry k of n at T` (an automatic `@flow(retries=n)`
///   retry), `not before T`, `waiting for run N of deployment D` (a run of
///   the same deployment is running, or was queued earlier), or `no worker
///   has claimed it`;
/// - a running run: `lease held by W until T` (or, when W is gone,
///   `lease held by W expired at T; recovery resumes it`);
/// - a cancelling run: `cancel requested`, with the worker that must stop it;
/// - a running step: its run's reason, or, when its attempt was cut off,
///   that the next attempt adopts it.
///
/// Times are RFC 3339 UTC; judged by the state store's clock (`now`).
public struct WaitingReason: Sendable {
    /// The run's reason; nil when it has finished.
    public var run: String?

    /// The reason of `run`, reading the other runs of its deployment and its
    /// failed action (for a retry's budget) from `store`.
    ///
    /// - Throws: ``StateStoreError`` when the store cannot be read.
    public static func load(_ run: RunRecord, store: any StateStore, now: Date) async throws(StateStoreError) -> WaitingReason {
        switch run.status {
        case .succeeded, .failed, .cancelled:
            return WaitingReason(run: nil)
        case .cancelling:
            let owner = run.leaseOwner.map { " (worker \($0.description) stops the action)" } ?? ""
            return WaitingReason(run: "cancel requested" + owner)
        case .running:
            let owner = run.leaseOwner?.description ?? "an unknown worker"
            let until = run.leaseExpiresAt.map(TimeText.rfc3339) ?? "an unknown time"
            if run.isAbandoned(now: now) {
                return WaitingReason(run: "lease held by \(owner) expired at \(until) (the worker is gone); recovery resumes it")
            }
            return WaitingReason(run: "lease held by \(owner) until \(until)")
        case .queued:
            return WaitingReason(run: try await queuedReason(run, store: store, now: now))
        }
    }

    static func queuedReason(_ run: RunRecord, store: any StateStore, now: Date) async throws(StateStoreError) -> String {
        if let due = run.notBefore, due > now {
            let at = TimeText.rfc3339(due)
            guard run.attempt > 1 else { return "not before \(at)" }
            let failed = try await store.actionRuns(runID: run.id).last { $0.status == .failed }
            let budget = JSONValue(storedText: failed?.errorJSON)?["retries"]?.intValue
            return "retry \(run.attempt - 1)\(budget.map { " of \($0)" } ?? "") at \(at)"
        }
        let active = try await store.runs(matching: RunFilter(deployment: run.deployment, status: .running, limit: 5))
            + store.runs(matching: RunFilter(deployment: run.deployment, status: .cancelling, limit: 5))
        if let holder = active.first(where: { $0.id != run.id }) {
            return "waiting for run \(holder.id) of deployment \(run.deployment) (\(holder.status.rawValue))"
        }
        let queued = try await store.runs(matching: RunFilter(deployment: run.deployment, status: .queued, limit: 1_000))
        if let earlier = queued.filter({ $0.id < run.id }).min(by: { $0.id < $1.id }) {
            return "waiting for run \(earlier.id) of deployment \(run.deployment) (queued earlier)"
        }
        return "no worker has claimed it"
    }

    /// The reason of `step` of attempt `step.attempt`; nil when it has finished.
    public func step(_ step: StepRecord, of run: RunRecord) -> String? {
        guard step.status == .running else { return nil }
        if run.status == .running, step.attempt < run.attempt || step.attempt > run.attempt {
            return "its attempt (\(step.attempt)) was cut off; attempt \(run.attempt) adopts or re-runs it"
        }
        if run.status == .queued || run.status.isFinished {
            return "its attempt (\(step.attempt)) was cut off; the next attempt adopts or re-runs it"
        }
        return self.run
    }
}
