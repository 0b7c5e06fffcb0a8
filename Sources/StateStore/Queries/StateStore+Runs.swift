public import Foundation
import GRDB

extension StateStore {
    static let runColumns = "runs.*, deployments.name AS deployment_name"
    static let runFrom = "runs JOIN deployments ON deployments.id = runs.deployment_id"

    /// Creates a queued run (attempt 1). With an idempotency key that this
    /// deployment already used, nothing is created and the earlier run is
    /// returned with `created == false`.
    public func createRun(_ new: NewRun, now: Date = Date()) throws(StateStoreError) -> (record: RunRecord, created: Bool) {
        try write { db in
            if let key = new.idempotencyKey,
               let existing = try Row.fetchOne(db, sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) WHERE runs.deployment_id = ? AND runs.idempotency_key = ?",
                                               arguments: [new.deploymentID, key]) {
                return (RunRecord(row: existing), false)
            }
            try db.execute(
                sql: """
                    INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, idempotency_key, not_before, created_at)
                    VALUES (?, ?, 'queued', 1, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [new.deploymentID, new.hook, new.inputsJSON, new.contextJSON, new.driverVersionID,
                            new.idempotencyKey, new.notBefore?.storedValue, now.storedValue]
            )
            let id = db.lastInsertedRowID
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) WHERE runs.id = ?", arguments: [id]) else {
                throw StateStoreError(.notFound, path: path, "no deployment with id \(new.deploymentID)")
            }
            return (RunRecord(row: row), true)
        }
    }

    /// The run with this id.
    public func run(id: RecordID) throws(StateStoreError) -> RunRecord? {
        try read { db in try Self.fetchRun(db, id: id) }
    }

    static func fetchRun(_ db: Database, id: RecordID) throws -> RunRecord? {
        try Row.fetchOne(db, sql: "SELECT \(runColumns) FROM \(runFrom) WHERE runs.id = ?", arguments: [id]).map(RunRecord.init(row:))
    }

    /// The newest runs matching `filter`, newest first.
    public func runs(matching filter: RunFilter = RunFilter()) throws(StateStoreError) -> [RunRecord] {
        try read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let deployment = filter.deployment {
                conditions.append("runs.deployment_id = (SELECT id FROM deployments WHERE name = ?)")
                _ = arguments.append(contentsOf: [deployment])
            }
            if let status = filter.status {
                conditions.append("runs.status = ?")
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [max(0, filter.limit)])
            return try Row.fetchAll(db, sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) \(whereClause) ORDER BY runs.id DESC LIMIT ?",
                                    arguments: arguments).map(RunRecord.init(row:))
        }
    }

    /// Changes a run's status, checked against ``RunStatus/allowedNext``, with
    /// the bookkeeping that goes with it:
    /// - to `running`: `started_at` is set on the first start;
    /// - to `queued` (a retry or a recovery): the attempt number grows by one,
    ///   the lease, end time and error are cleared, `notBefore` is set;
    /// - to a finished status: `ended_at` is set, the lease is released, `errorJSON` stored.
    @discardableResult
    public func changeRunStatus(
        id: RecordID, to next: RunStatus, errorJSON: String? = nil, notBefore: Date? = nil, now: Date = Date()
    ) throws(StateStoreError) -> RunRecord {
        try write { db in
            guard let run = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, path: path, "no run \(id)")
            }
            guard run.status.canChange(to: next) else {
                throw StateStoreError(.illegalTransition, path: path, "run \(id) cannot go from \(run.status.rawValue) to \(next.rawValue)")
            }
            switch next {
            case .queued:
                try db.execute(
                    sql: """
                        UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL,
                            ended_at = NULL, error = NULL, not_before = ? WHERE id = ?
                        """,
                    arguments: [notBefore?.storedValue, id]
                )
            case .running, .cancelling:
                try db.execute(
                    sql: "UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?) WHERE id = ?",
                    arguments: [next.rawValue, now.storedValue, id]
                )
            case .succeeded, .failed, .cancelled:
                try db.execute(
                    sql: "UPDATE runs SET status = ?, ended_at = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
                    arguments: [next.rawValue, now.storedValue, errorJSON, id]
                )
            }
            guard let updated = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, path: path, "no run \(id)")
            }
            return updated
        }
    }

    /// Starts the next attempt of a failed or cancelled run (or of a running
    /// one whose lease expired before `now`): status `queued`, attempt + 1,
    /// with the replay policy and, optionally, another driver version.
    @discardableResult
    /// `abandonedOwner`: the caller knows this lease owner is dead (a process
    /// of this machine that no longer exists), so its lease counts as expired.
    public func retryRun(
        id: RecordID, replayJSON: String?, driverVersionID: RecordID? = nil, notBefore: Date? = nil,
        abandonedOwner: String? = nil, now: Date = Date()
    ) throws(StateStoreError) -> RunRecord {
        try write { db in
            guard let run = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, path: path, "no run \(id)")
            }
            let ownerDead = abandonedOwner != nil && run.leaseOwner == abandonedOwner
            let expired = (run.status == .running || run.status == .cancelling) && (ownerDead || (run.leaseExpiresAt.map { $0 < now } ?? true))
            guard run.status == .failed || run.status == .cancelled || expired else {
                let reason = run.status == .running || run.status == .cancelling
                    ? "it is \(run.status.rawValue) and its worker's lease is still valid"
                    : "it is \(run.status.rawValue) (only failed, cancelled, or abandoned running runs can be retried)"
                throw StateStoreError(.illegalTransition, path: path, "run \(id) cannot be retried: \(reason)")
            }
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL,
                        ended_at = NULL, error = NULL, not_before = ?, replay = ?, driver_version_id = COALESCE(?, driver_version_id)
                    WHERE id = ?
                    """,
                arguments: [notBefore?.storedValue, replayJSON, driverVersionID, id]
            )
            try Self.releaseActions(db, runID: id)
            guard let updated = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, path: path, "no run \(id)")
            }
            return updated
        }
    }

    /// Deletes finished runs (succeeded, failed, cancelled) that ended before
    /// `date`, with their action runs, steps and log lines. Returns how many runs went.
    @discardableResult
    public func pruneRuns(endedBefore date: Date) throws(StateStoreError) -> Int {
        try write { db in
            try db.execute(
                sql: "DELETE FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled') AND ended_at < ?",
                arguments: [date.storedValue]
            )
            return db.changesCount
        }
    }

    // MARK: Queue

    /// Claims the oldest runnable run for `owner`, in one write transaction:
    /// a run is runnable when it is queued, its `not_before` has passed and no
    /// other run of the same deployment is running or cancelling. The claim
    /// is a lease until `now + leaseDuration`; the run becomes `running`.
    /// With `runID`, only that run is considered.
    public func claimNextRun(
        owner: String, leaseDuration: TimeInterval, runID: RecordID? = nil, now: Date = Date()
    ) throws(StateStoreError) -> RunRecord? {
        try write { db in
            let onlyThis = runID == nil ? "" : "AND r.id = ?"
            var arguments: StatementArguments = [now.storedValue]
            if let runID { _ = arguments.append(contentsOf: [runID]) }
            guard let id = try RecordID.fetchOne(db, sql: """
                SELECT r.id FROM runs r
                WHERE r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= ?) \(onlyThis)
                  AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.deployment_id = r.deployment_id AND o.status IN ('running', 'cancelling'))
                ORDER BY r.id LIMIT 1
                """, arguments: arguments) else { return nil }
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, started_at = COALESCE(started_at, ?)
                    WHERE id = ?
                    """,
                arguments: [owner, now.addingTimeInterval(leaseDuration).storedValue, now.storedValue, id]
            )
            return try Self.fetchRun(db, id: id)
        }
    }

    /// Extends `owner`'s lease on a running run. False when the lease was lost
    /// (another worker recovered the run, or it ended).
    public func renewLease(runID: RecordID, owner: String, until: Date) throws(StateStoreError) -> Bool {
        try write { db in
            try db.execute(
                sql: "UPDATE runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status IN ('running', 'cancelling')",
                arguments: [until.storedValue, runID, owner]
            )
            return db.changesCount == 1
        }
    }

    /// Running (or cancelling) runs whose lease expired before `now`: their worker died.
    public func runsWithExpiredLease(now: Date = Date()) throws(StateStoreError) -> [RunRecord] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.runColumns) FROM \(Self.runFrom)
                WHERE runs.status IN ('running', 'cancelling') AND runs.lease_expires_at < ? ORDER BY runs.id
                """, arguments: [now.storedValue]).map(RunRecord.init(row:))
        }
    }

    /// Puts a run whose lease expired back in the queue for its next attempt
    /// (a run that was `cancelling` becomes `cancelled` instead). Returns nil
    /// (and changes nothing) when the lease is still valid or the run is no
    /// longer running: another worker got there first.
    public func requeueExpiredRun(id: RecordID, now: Date = Date()) throws(StateStoreError) -> RunRecord? {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET
                        status = CASE status WHEN 'cancelling' THEN 'cancelled' ELSE 'queued' END,
                        attempt = CASE status WHEN 'cancelling' THEN attempt ELSE attempt + 1 END,
                        ended_at = CASE status WHEN 'cancelling' THEN ? ELSE NULL END,
                        lease_owner = NULL, lease_expires_at = NULL, not_before = NULL
                    WHERE id = ? AND status IN ('running', 'cancelling') AND lease_expires_at < ?
                    """,
                arguments: [now.storedValue, id, now.storedValue]
            )
            guard db.changesCount == 1 else { return nil }
            try Self.releaseActions(db, runID: id)
            return try Self.fetchRun(db, id: id)
        }
    }
}

extension StateStore {
    /// Actions a dead or finished attempt left `running` go back to `pending`
    /// for the next attempt (their steps stay as recorded).
    static func releaseActions(_ db: Database, runID: RecordID) throws {
        try db.execute(sql: "UPDATE action_runs SET status = 'pending', ended_at = NULL WHERE run_id = ? AND status = 'running'", arguments: [runID])
    }
}

extension RunRecord {
    init(row: Row) {
        self.init(
            id: row["id"], deploymentID: row["deployment_id"], deployment: row["deployment_name"], hook: row["hook"],
            status: RunStatus(rawValue: row["status"]) ?? .failed, attempt: row["attempt"],
            inputsJSON: row["inputs"], contextJSON: row["context"], driverVersionID: row["driver_version_id"],
            idempotencyKey: row["idempotency_key"], leaseOwner: row["lease_owner"], leaseExpiresAt: row.date("lease_expires_at"),
            notBefore: row.date("not_before"), createdAt: Date(storedValue: row["created_at"]),
            startedAt: row.date("started_at"), endedAt: row.date("ended_at"), errorJSON: row["error"],
            replayJSON: row["replay"]
        )
    }
}
