public import Foundation
import GRDB

extension SQLiteStateStore {
    static let runColumns = "runs.*, deployments.name AS deployment_name"
    static let runFrom = "runs JOIN deployments ON deployments.id = runs.deployment_id"

    /// Creates a queued run (attempt 1). With an idempotency key that this
    /// deployment already used, nothing is created and the earlier run is
    /// returned with `created == false`.
    public func createRun(_ new: NewRun) async throws(StateStoreError) -> (record: RunRecord, created: Bool) {
        let now = clock.now
        return try await write { db in
            if let key = new.idempotencyKey,
               let existing = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) WHERE runs.deployment_id = ? AND runs.idempotency_key = ?"),
                                               arguments: [new.deploymentID, key]) {
                return (try RunRecord(row: existing), false)
            }
            try Self.admit(new, db, location: self.path)
            try db.cachedStatement(sql: """
                    INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, idempotency_key,
                                      not_before, created_at, request_digest)
                    VALUES (?, ?, 'queued', 1, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [new.deploymentID, new.hook.rawValue, new.inputsJSON, new.contextJSON, new.driverVersionID,
                            new.idempotencyKey, new.notBefore?.storedValue, now.storedValue, new.requestDigest]
            )
            let id = db.lastInsertedRowID
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) WHERE runs.id = ?"), arguments: [id]) else {
                throw StateStoreError(.notFound, location: self.path, "no deployment with id \(new.deploymentID)")
            }
            return (try RunRecord(row: row), true)
        }
    }

    /// Refuses a new run its deployment cannot take (see ``StateStore/createRun(_:)``).
    static func admit(_ new: NewRun, _ db: Database, location: String) throws {
        if let deleted = try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM deployments WHERE id = ? AND deleted_at IS NOT NULL"), arguments: [new.deploymentID]) {
            throw StateStoreError(.illegalTransition, location: location, "deployment \(deleted) was deleted; it takes no more runs")
        }
        let blocker = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, hook, status FROM runs WHERE deployment_id = ? AND status IN ('queued', 'running', 'cancelling')
            ORDER BY (hook = 'delete') DESC, id LIMIT 1
            """), arguments: [new.deploymentID])
        guard let blocker else { return }
        let id: RecordID = blocker["id"], hook: String = blocker["hook"], status: String = blocker["status"]
        if hook == "delete" {
            throw StateStoreError(.illegalTransition, location: location, "the deployment is being deleted by run \(id) (\(status)); nothing can follow it")
        }
        if new.exclusive {
            throw StateStoreError(.illegalTransition, location: location,
                "the deployment has run \(id) (\(hook), \(status)) queued or in progress; a \(new.hook.rawValue) runs alone")
        }
    }

    /// The run with this id.
    public func run(id: RecordID) async throws(StateStoreError) -> RunRecord? {
        try await read { db in try Self.fetchRun(db, id: id) }
    }

    static func fetchRun(_ db: Database, id: RecordID) throws -> RunRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(runColumns) FROM \(runFrom) WHERE runs.id = ?"), arguments: [id]).map(RunRecord.init(row:))
    }

    /// The newest runs matching `filter`, newest first.
    public func runs(matching filter: RunFilter = RunFilter()) async throws(StateStoreError) -> [RunRecord] {
        try await read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let deployment = filter.deployment {
                conditions.append("runs.deployment_id IN (SELECT id FROM deployments WHERE name = ?)")
                _ = arguments.append(contentsOf: [deployment])
            }
            if let status = filter.status {
                conditions.append("runs.status = ?")
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let beforeID = filter.beforeID {
                conditions.append("runs.id < ?")
                _ = arguments.append(contentsOf: [beforeID])
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [max(0, filter.limit)])
            return try Row.fetchAll(db.cachedStatement(sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) \(whereClause) ORDER BY runs.id DESC LIMIT ?"),
                                    arguments: arguments).map(RunRecord.init(row:))
        }
    }

    @discardableResult
    public func changeRunStatus(
        id: RecordID, to next: RunStatus, errorJSON: String? = nil, notBefore: Date? = nil
    ) async throws(StateStoreError) -> RunRecord {
        let now = clock.now
        return try await write { db in
            guard let run = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, location: self.path, "no run \(id)")
            }
            guard run.status.canChange(to: next) else {
                throw StateStoreError(.illegalTransition, location: self.path, "run \(id) cannot go from \(run.status.rawValue) to \(next.rawValue)")
            }
            switch next {
            case .queued:
                try db.cachedStatement(sql: """
                        UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL,
                            ended_at = NULL, error = NULL, not_before = ? WHERE id = ?
                        """).execute(arguments: [notBefore?.storedValue, id]
                )
            case .running, .cancelling:
                try db.cachedStatement(sql: "UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?) WHERE id = ?").execute(arguments: [next.rawValue, now.storedValue, id]
                )
            case .succeeded, .failed, .cancelled:
                try db.cachedStatement(sql: "UPDATE runs SET status = ?, ended_at = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?").execute(arguments: [next.rawValue, now.storedValue, errorJSON, id]
                )
            }
            guard let updated = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, location: self.path, "no run \(id)")
            }
            return updated
        }
    }

    @discardableResult
    public func retryRun(
        id: RecordID, replayJSON: String?, driverVersionID: RecordID? = nil, notBefore: Date? = nil, abandonedOwner: LeaseOwner? = nil,
        handingOn failure: AttemptFailure? = nil
    ) async throws(StateStoreError) -> RunRecord {
        let now = clock.now
        return try await write { db in
            guard let run = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, location: self.path, "no run \(id)")
            }
            let ownerDead = abandonedOwner != nil && run.leaseOwner == abandonedOwner
            let expired = (run.status == .running || run.status == .cancelling) && (ownerDead || (run.leaseExpiresAt.map { $0 < now } ?? true))
            guard run.status == .failed || run.status == .cancelled || expired else {
                let reason = run.status == .running || run.status == .cancelling
                    ? "it is \(run.status.rawValue) and its worker's lease is still valid"
                    : "it is \(run.status.rawValue) (only failed, cancelled, or abandoned running runs can be retried)"
                throw StateStoreError(.illegalTransition, location: self.path, "run \(id) cannot be retried: \(reason)")
            }
            try db.cachedStatement(sql: """
                    UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL,
                        ended_at = NULL, error = NULL, not_before = ?, replay = ?, driver_version_id = COALESCE(?, driver_version_id)
                    WHERE id = ?
                    """).execute(arguments: [notBefore?.storedValue, replayJSON, driverVersionID, id]
            )
            if !run.status.isFinished { try Self.recordHandOff(db, of: run, failure: failure, now: now) }
            try Self.releaseActions(db, runID: id)
            guard let updated = try Self.fetchRun(db, id: id) else {
                throw StateStoreError(.notFound, location: self.path, "no run \(id)")
            }
            return updated
        }
    }

    @discardableResult
    public func refreezeRun(id: RecordID, inputsJSON: String, contextJSON: String) async throws(StateStoreError) -> RunRecord {
        let path = path
        return try await write { db in
            guard let run = try Self.fetchRun(db, id: id) else { throw StateStoreError(.notFound, location: path, "no run \(id)") }
            let actions = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM action_runs WHERE run_id = ?"), arguments: [id]) ?? 0
            guard run.attempt == 1, actions == 0, !run.status.isFinished else {
                throw StateStoreError(.illegalTransition, location: path, "run \(id) has started its actions; its context stays as it was frozen")
            }
            try db.cachedStatement(sql: "UPDATE runs SET inputs = ?, context = ? WHERE id = ?").execute(arguments: [inputsJSON, contextJSON, id])
            guard let updated = try Self.fetchRun(db, id: id) else { throw StateStoreError(.notFound, location: path, "no run \(id)") }
            return updated
        }
    }

    public func pruneRuns(endedBefore date: Date) async throws(StateStoreError) -> Int {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled') AND ended_at < ?").execute(arguments: [date.storedValue]
            )
            return db.changesCount
        }
    }

    public func attemptEnds(ofRun runID: RecordID) async throws(StateStoreError) -> [AttemptEnd] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT attempt, ended_by, status, error, action_error, ended_at FROM attempt_ends WHERE run_id = ? ORDER BY attempt, id
                """),
                             arguments: [runID]).map(AttemptEnd.init(row:))
        }
    }

    // MARK: Queue

    public func claimNextRun(owner: LeaseOwner, leaseDuration: Duration, runID: RecordID? = nil) async throws(StateStoreError) -> RunRecord? {
        let now = clock.now
        let expires = now.addingTimeInterval(leaseDuration.seconds)
        return try await write { db in
            let onlyThis = runID == nil ? "" : "AND r.id = ?"
            var arguments: StatementArguments = [now.storedValue]
            if let runID { _ = arguments.append(contentsOf: [runID]) }
            guard let id = try RecordID.fetchOne(db.cachedStatement(sql: """
                SELECT r.id FROM runs r
                WHERE r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= ?) \(onlyThis)
                  AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.deployment_id = r.deployment_id AND o.status IN ('running', 'cancelling'))
                  AND NOT EXISTS (SELECT 1 FROM runs p WHERE p.deployment_id = r.deployment_id AND p.status = 'queued' AND p.id < r.id)
                ORDER BY r.id LIMIT 1
                """), arguments: arguments) else { return nil }
            try db.cachedStatement(sql: """
                    UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, started_at = COALESCE(started_at, ?)
                    WHERE id = ?
                    """).execute(arguments: [owner.description, expires.storedValue, now.storedValue, id]
            )
            return try Self.fetchRun(db, id: id)
        }
    }

    public func renewLease(runID: RecordID, owner: LeaseOwner, attempt: Int?, leaseDuration: Duration) async throws(StateStoreError) -> Bool {
        let until = clock.now.addingTimeInterval(leaseDuration.seconds)
        return try await write { db in
            try db.cachedStatement(sql: """
                UPDATE runs SET lease_expires_at = ?
                WHERE id = ? AND lease_owner = ? AND status IN ('running', 'cancelling') AND (? IS NULL OR attempt = ?)
                """).execute(arguments: [until.storedValue, runID, owner.description, attempt, attempt])
            return db.changesCount == 1
        }
    }

    public func runsWithExpiredLease() async throws(StateStoreError) -> [RunRecord] {
        let now = clock.now
        return try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(Self.runColumns) FROM \(Self.runFrom)
                WHERE runs.status IN ('running', 'cancelling') AND runs.lease_expires_at < ? ORDER BY runs.id
                """), arguments: [now.storedValue]).map(RunRecord.init(row:))
        }
    }

    public func requeueExpiredRun(id: RecordID, abandonedOwner: LeaseOwner? = nil) async throws(StateStoreError) -> RunRecord? {
        let now = clock.now
        return try await write { db in
            let before = try Self.fetchRun(db, id: id)
            try db.cachedStatement(sql: """
                    UPDATE runs SET
                        status = CASE status WHEN 'cancelling' THEN 'cancelled' ELSE 'queued' END,
                        attempt = CASE status WHEN 'cancelling' THEN attempt ELSE attempt + 1 END,
                        ended_at = CASE status WHEN 'cancelling' THEN ? ELSE NULL END,
                        lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, replay = NULL
                    WHERE id = ? AND status IN ('running', 'cancelling') AND (lease_expires_at < ? OR lease_owner = ?)
                    """).execute(arguments: [now.storedValue, id, now.storedValue, abandonedOwner?.description]
            )
            guard db.changesCount == 1 else { return nil }
            if let before, before.status == .running { try Self.recordHandOff(db, of: before, failure: nil, now: now) }
            try Self.releaseActions(db, runID: id)
            return try Self.fetchRun(db, id: id)
        }
    }
}

extension SQLiteStateStore {
    /// Actions a dead or finished attempt left `running` go back to `pending`
    /// for the next attempt (their steps stay as recorded).
    static func releaseActions(_ db: Database, runID: RecordID) throws {
        try db.cachedStatement(sql: "UPDATE action_runs SET status = 'pending', ended_at = NULL WHERE run_id = ? AND status = 'running'").execute(arguments: [runID])
    }
}

extension SQLiteStateStore {
    /// Keeps how `run`'s current attempt ended when it is handed to the next
    /// without an end: a flow's retry with `failure`, else a recovery.
    static func recordHandOff(_ db: Database, of run: RunRecord, failure: AttemptFailure?, now: Date) throws {
        let end = AttemptEnd.handedOn(run, failure: failure, now: now)
        try db.cachedStatement(sql: """
            INSERT INTO attempt_ends (run_id, attempt, ended_by, status, error, action_error, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [run.id, end.attempt, end.endedBy.rawValue, end.status.rawValue, end.errorJSON,
                                     end.actionErrorJSON, end.endedAt.storedValue])
    }
}

extension RunRecord {
    init(row: Row) throws {
        try self.init(
            id: row["id"], deploymentID: row["deployment_id"], deployment: row["deployment_name"], hook: row.word("hook", of: "runs"),
            status: row.word("status", of: "runs"), attempt: row["attempt"],
            inputsJSON: row["inputs"], contextJSON: row["context"], driverVersionID: row["driver_version_id"],
            idempotencyKey: row["idempotency_key"], leaseOwner: (row["lease_owner"] as String?).flatMap(LeaseOwner.init), leaseExpiresAt: row.date("lease_expires_at"),
            notBefore: row.date("not_before"), createdAt: Date(storedValue: row["created_at"]),
            startedAt: row.date("started_at"), endedAt: row.date("ended_at"), errorJSON: row["error"],
            replayJSON: row["replay"], requestDigest: row["request_digest"]
        )
    }
}

extension AttemptEnd {
    init(row: Row) throws {
        try self.init(attempt: row["attempt"], endedBy: row.word("ended_by", of: "attempt_ends"), status: row.word("status", of: "attempt_ends"),
                      errorJSON: row["error"], actionErrorJSON: row["action_error"], endedAt: Date(storedValue: row["ended_at"]))
    }
}
