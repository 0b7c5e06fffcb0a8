public import Foundation

extension InMemoryStateStore {
    // MARK: Runs

    /// Creates a queued run (attempt 1). With an idempotency key this
    /// deployment already used, nothing is created and the earlier run is
    /// returned with `created == false`. An unknown deployment or driver
    /// version throws ``StateStoreError/Code/database`` (as SQLite's foreign
    /// keys do) and creates nothing.
    public func createRun(_ new: NewRun) async throws(StateStoreError) -> (record: RunRecord, created: Bool) {
        let now = clock.now
        if let key = new.idempotencyKey,
           let existing = tables.runs.rows.first(where: { row in
               row.deploymentID == new.deploymentID && row.idempotencyKey.map { StoredText.same($0, key) } == true
           }),
           let record = runRecord(existing) {
            return (record, false)
        }
        guard let deployment = tables.deployments[new.deploymentID] else { throw missingReference("deployment \(new.deploymentID)") }
        guard tables.driverVersions[new.driverVersionID] != nil else { throw missingReference("driver version \(new.driverVersionID)") }
        if deployment.deletedAt != nil {
            throw failure(.illegalTransition, "deployment \(deployment.name) was deleted; it takes no more runs")
        }
        let unfinished = tables.runs.rows.filter { $0.deploymentID == new.deploymentID && ($0.status == .queued || $0.isActive) }
        if let deleting = unfinished.first(where: { $0.hook == .delete }) {
            throw failure(.illegalTransition, "the deployment is being deleted by run \(deleting.id) (\(deleting.status.rawValue)); nothing can follow it")
        }
        if new.exclusive, let busy = unfinished.first {
            throw failure(.illegalTransition,
                "the deployment has run \(busy.id) (\(busy.hook.rawValue), \(busy.status.rawValue)) queued or in progress; a \(new.hook.rawValue) runs alone")
        }
        let row = tables.runs.insert { id in
            RunRow(
                id: id, deploymentID: new.deploymentID, hook: new.hook, status: .queued, attempt: 1,
                inputsJSON: new.inputsJSON, contextJSON: new.contextJSON, driverVersionID: new.driverVersionID,
                idempotencyKey: new.idempotencyKey, leaseOwner: nil, leaseExpiresAt: nil,
                notBefore: new.notBefore?.storedValue, createdAt: now.storedValue,
                startedAt: nil, endedAt: nil, errorJSON: nil, replayJSON: nil, requestDigest: new.requestDigest
            )
        }
        return (try existingRun(row.id), true)
    }

    /// The run with this id, or nil.
    public func run(id: RecordID) async throws(StateStoreError) -> RunRecord? {
        tables.runs[id].flatMap(runRecord)
    }

    /// The newest runs matching `filter`, newest first; none for an unknown
    /// deployment name, none for a limit of 0 or less.
    public func runs(matching filter: RunFilter = RunFilter()) async throws(StateStoreError) -> [RunRecord] {
        var deploymentIDs: Set<RecordID>?
        if let name = filter.deployment {
            deploymentIDs = Set(tables.deployments.rows.filter { StoredText.same($0.name, name) }.map(\.id))
        }
        let matching = tables.runs.rows.reversed().lazy.filter { row in
            (deploymentIDs.map { $0.contains(row.deploymentID) } ?? true) && (filter.status.map { row.status == $0 } ?? true)
                && (filter.beforeID.map { row.id < $0 } ?? true)
        }
        return Array(matching.compactMap(runRecord).prefix(max(0, filter.limit)))
    }

    /// Changes a run's status, checked against ``RunStatus/allowedNext``:
    /// to `queued`, the attempt grows by one and lease, end time and error are
    /// cleared, `notBefore` set (the replay policy stays); to `running` or
    /// `cancelling`, `startedAt` is set on the first start (no lease is
    /// taken: ``claimNextRun(owner:leaseDuration:runID:)`` does that); to a
    /// finished status, `endedAt` is set, the lease released and `errorJSON`
    /// stored. An unknown id throws ``StateStoreError/Code/notFound``.
    @discardableResult
    public func changeRunStatus(
        id: RecordID, to next: RunStatus, errorJSON: String? = nil, notBefore: Date? = nil
    ) async throws(StateStoreError) -> RunRecord {
        let now = clock.now.storedValue
        let run = try existingRun(id)
        guard run.status.canChange(to: next) else {
            throw failure(.illegalTransition, "run \(id) cannot go from \(run.status.rawValue) to \(next.rawValue)")
        }
        tables.runs.update(id) { row in
            row.status = next
            switch next {
            case .queued:
                row.queueNextAttempt(notBefore: notBefore?.storedValue)
                row.errorJSON = nil
            case .running, .cancelling:
                row.startedAt = row.startedAt ?? now
            case .succeeded, .failed, .cancelled:
                row.endedAt = now
                row.errorJSON = errorJSON
                row.leaseOwner = nil
                row.leaseExpiresAt = nil
            }
        }
        if next.isFinished { recordRunEnd(id) }
        return try existingRun(id)
    }

    /// Starts the next attempt of a failed or cancelled run, or of a running
    /// or cancelling one whose lease expired (or that has none) or whose owner
    /// is `abandonedOwner`: status `queued`, attempt + 1, lease, end time and
    /// error cleared, `notBefore` and the replay policy set, the driver
    /// version changed when given; actions left `running` go back to
    /// `pending`. Anything else throws ``StateStoreError/Code/illegalTransition``,
    /// an unknown id ``StateStoreError/Code/notFound``, an unknown driver
    /// version ``StateStoreError/Code/database``.
    @discardableResult
    public func retryRun(
        id: RecordID, replayJSON: String?, driverVersionID: RecordID? = nil, notBefore: Date? = nil, abandonedOwner: LeaseOwner? = nil,
        handingOn handOff: AttemptFailure? = nil
    ) async throws(StateStoreError) -> RunRecord {
        let now = clock.now
        let run = try existingRun(id)
        let ownerDead = abandonedOwner != nil && run.leaseOwner == abandonedOwner
        let active = run.status == .running || run.status == .cancelling
        let leaseGone = run.leaseExpiresAt.map { $0 < now } ?? true
        guard run.status == .failed || run.status == .cancelled || (active && (ownerDead || leaseGone)) else {
            let reason = active
                ? "it is \(run.status.rawValue) and its worker's lease is still valid"
                : "it is \(run.status.rawValue) (only failed, cancelled, or abandoned running runs can be retried)"
            throw failure(.illegalTransition, "run \(id) cannot be retried: \(reason)")
        }
        if let driverVersionID, tables.driverVersions[driverVersionID] == nil {
            throw missingReference("driver version \(driverVersionID)")
        }
        if active { recordHandOff(id, failure: handOff, now: now) }
        tables.runs.update(id) { row in
            row.queueNextAttempt(notBefore: notBefore?.storedValue)
            row.errorJSON = nil
            row.replayJSON = replayJSON
            if let driverVersionID { row.driverVersionID = driverVersionID }
        }
        releaseActions(runID: id)
        return try existingRun(id)
    }

    /// Deletes finished runs that ended before `date`, with their actions,
    /// steps and logs; returns how many runs went.
    @discardableResult
    public func refreezeRun(id: RecordID, inputsJSON: String, contextJSON: String) async throws(StateStoreError) -> RunRecord {
        let run = try existingRun(id)
        guard run.attempt == 1, !run.status.isFinished, !tables.actionRuns.rows.contains(where: { $0.runID == id }) else {
            throw failure(.illegalTransition, "run \(id) has started its actions; its context stays as it was frozen")
        }
        tables.runs.update(id) { row in
            row.inputsJSON = inputsJSON
            row.contextJSON = contextJSON
        }
        return try existingRun(id)
    }

    public func pruneRuns(endedBefore date: Date) async throws(StateStoreError) -> Int {
        let cutOff = date.storedValue
        let runIDs = Set(tables.runs.rows.filter { row in
            row.status.isFinished && (row.endedAt.map { $0 < cutOff } ?? false)
        }.map(\.id))
        guard !runIDs.isEmpty else { return 0 }
        let actionRunIDs = Set(tables.actionRuns.rows.filter { runIDs.contains($0.runID) }.map(\.id))
        tables.runs.removeAll { runIDs.contains($0.id) }
        tables.actionRuns.removeAll { actionRunIDs.contains($0.id) }
        tables.steps.removeAll { actionRunIDs.contains($0.actionRunID) }
        tables.logs.removeAll { runIDs.contains($0.runID) }
        tables.runEnds.removeAll { runIDs.contains($0.runID) }
        tables.attemptEnds.removeAll { runIDs.contains($0.runID) }
        tables.webhookDeliveries.removeAll { runIDs.contains($0.runID) }
        tables.backups.updateAll(where: { $0.runID.map(runIDs.contains) == true }) { $0.runID = nil }
        return runIDs.count
    }

    public func attemptEnds(ofRun runID: RecordID) async throws(StateStoreError) -> [AttemptEnd] {
        // A stable sort: ends of one attempt stay in the order they were kept.
        tables.attemptEnds.filter { $0.runID == runID }.map(\.end).enumerated()
            .sorted { ($0.element.attempt, $0.offset) < ($1.element.attempt, $1.offset) }.map(\.element)
    }

    // MARK: Helpers

    /// The record of a stored run, with its deployment's name; nil (as
    /// SQLite's join would drop it) if the deployment were missing.
    func runRecord(_ row: RunRow) -> RunRecord? {
        guard let deployment = tables.deployments[row.deploymentID] else { return nil }
        return RunRecord(
            id: row.id, deploymentID: row.deploymentID, deployment: deployment.name, hook: row.hook,
            status: row.status, attempt: row.attempt, inputsJSON: row.inputsJSON, contextJSON: row.contextJSON,
            driverVersionID: row.driverVersionID, idempotencyKey: row.idempotencyKey,
            leaseOwner: row.leaseOwner.flatMap(LeaseOwner.init), leaseExpiresAt: row.leaseExpiresAt.map(Date.init(storedValue:)),
            notBefore: row.notBefore.map(Date.init(storedValue:)), createdAt: Date(storedValue: row.createdAt),
            startedAt: row.startedAt.map(Date.init(storedValue:)), endedAt: row.endedAt.map(Date.init(storedValue:)),
            errorJSON: row.errorJSON, replayJSON: row.replayJSON, requestDigest: row.requestDigest
        )
    }

    /// The run with this id, or ``StateStoreError/Code/notFound``.
    func existingRun(_ id: RecordID) throws(StateStoreError) -> RunRecord {
        guard let run = tables.runs[id].flatMap(runRecord) else {
            throw failure(.notFound, "no run \(id)")
        }
        return run
    }

    /// Actions a dead or finished attempt left `running` go back to `pending`
    /// for the next attempt (their steps stay as recorded).
    func releaseActions(runID: RecordID) {
        tables.actionRuns.updateAll(where: { $0.runID == runID && $0.status == .running }) { action in
            action.status = .pending
            action.endedAt = nil
        }
    }
}
