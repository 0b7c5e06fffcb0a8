import Foundation

extension InMemoryStateStore {
    // MARK: Queue and leases

    /// Claims the oldest (lowest id) runnable run for `owner`: queued, its
    /// `notBefore` reached (at or before now), no other run of its deployment
    /// `running` or `cancelling`. The run becomes `running` with a lease until
    /// now + `leaseDuration` and `startedAt` set on its first start. With
    /// `runID`, only that run is considered. Nil when nothing is runnable.
    public func claimNextRun(owner: LeaseOwner, leaseDuration: Duration, runID: RecordID? = nil) async throws(StateStoreError) -> RunRecord? {
        let now = clock.now
        let expires = now.addingTimeInterval(leaseDuration.seconds)
        let busy = Set(tables.runs.rows.filter(\.isActive).map(\.deploymentID))
        var firstQueued: [RecordID: RecordID] = [:]
        for row in tables.runs.rows where row.status == .queued {
            firstQueued[row.deploymentID] = min(firstQueued[row.deploymentID] ?? row.id, row.id)
        }
        guard let claimed = tables.runs.rows.first(where: { row in
            row.status == .queued && (row.notBefore.map { $0 <= now.storedValue } ?? true)
                && (runID.map { row.id == $0 } ?? true) && !busy.contains(row.deploymentID)
                && firstQueued[row.deploymentID] == row.id
        }) else { return nil }
        tables.runs.update(claimed.id) { row in
            row.status = .running
            row.leaseOwner = owner.description
            row.leaseExpiresAt = expires.storedValue
            row.startedAt = row.startedAt ?? now.storedValue
        }
        return tables.runs[claimed.id].flatMap(runRecord)
    }

    /// Extends `owner`'s lease on a running or cancelling run to now +
    /// `leaseDuration`, even one that expired but was not recovered yet.
    /// False when the run is not `owner`'s (another worker took it over, it
    /// ended, or it does not exist).
    public func renewLease(runID: RecordID, owner: LeaseOwner, attempt: Int?, leaseDuration: Duration) async throws(StateStoreError) -> Bool {
        let until = clock.now.addingTimeInterval(leaseDuration.seconds).storedValue
        guard let row = tables.runs[runID], row.isActive, attempt.map({ $0 == row.attempt }) ?? true,
              row.leaseOwner.map({ StoredText.same($0, owner.description) }) == true else { return false }
        tables.runs.update(row.id) { $0.leaseExpiresAt = until }
        return true
    }

    /// Running or cancelling runs whose lease expired before now, by id. A
    /// run without a lease (made `running` by ``changeRunStatus(id:to:errorJSON:notBefore:)``
    /// rather than claimed) never counts as expired here.
    public func runsWithExpiredLease() async throws(StateStoreError) -> [RunRecord] {
        let now = clock.now.storedValue
        return tables.runs.rows.filter { row in
            row.isActive && (row.leaseExpiresAt.map { $0 < now } ?? false)
        }.compactMap(runRecord)
    }

    /// Puts a running run whose lease expired (or whose owner is
    /// `abandonedOwner`) back in the queue: attempt + 1, lease, end time,
    /// `notBefore` and replay policy cleared (the error is kept). A
    /// `cancelling` one ends `cancelled` instead (same attempt, `endedAt` set).
    /// Either way, actions left `running` go back to `pending`. Nil, changing
    /// nothing, when the lease is still valid, the run has no lease, or it is
    /// no longer running or cancelling.
    public func requeueExpiredRun(id: RecordID, abandonedOwner: LeaseOwner? = nil) async throws(StateStoreError) -> RunRecord? {
        let now = clock.now.storedValue
        guard let row = tables.runs[id], row.isActive else { return nil }
        let expired = row.leaseExpiresAt.map { $0 < now } ?? false
        let abandoned = abandonedOwner.map { owner in row.leaseOwner.map { StoredText.same($0, owner.description) } == true } ?? false
        guard expired || abandoned else { return nil }
        if row.status == .running { recordHandOff(id, failure: nil, now: clock.now) }
        tables.runs.update(id) { row in
            if row.status == .cancelling {
                row.status = .cancelled
                row.endedAt = now
                row.leaseOwner = nil
                row.leaseExpiresAt = nil
                row.notBefore = nil
            } else {
                row.queueNextAttempt(notBefore: nil)
            }
            row.replayJSON = nil
        }
        if tables.runs[id]?.status == .cancelled { recordRunEnd(id) }
        releaseActions(runID: id)
        return tables.runs[id].flatMap(runRecord)
    }
}
