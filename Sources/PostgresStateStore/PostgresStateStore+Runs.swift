import FlowModel
public import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// A run with its deployment's name, as ``RunRecord/init(row:)`` reads it.
    static let runSelect = "SELECT runs.*, deployments.name AS deployment_name FROM runs JOIN deployments ON deployments.id = runs.deployment_id"

    /// The runs a data-changing statement returned (`WITH changed AS (... RETURNING *)`), with their deployment's name.
    static let changedRuns = "SELECT changed.*, deployments.name AS deployment_name FROM changed JOIN deployments ON deployments.id = changed.deployment_id"

    /// Creates a queued run (attempt 1), holding its deployment's row lock
    /// while it decides: an idempotency key the deployment already used
    /// returns the earlier run (`created == false`); a deleted deployment, a
    /// run behind an unfinished `delete` and an exclusive run while another
    /// is queued, running or cancelling are refused with
    /// ``StateStoreError/Code/illegalTransition``; a missing deployment or
    /// driver version with ``StateStoreError/Code/database``.
    public func createRun(_ new: NewRun) async throws(StateStoreError) -> (record: RunRecord, created: Bool) {
        let now = fixedNow
        return try await transaction { sql in
            if let existing = try await self.admit(new, sql) { return (existing, false) }
            return (try await self.insertRun(new, inputsJSON: new.inputsJSON, now: now, sql), true)
        }
    }

    /// Locks the deployment's row, then answers a repeated idempotency key
    /// with its run, or refuses a run the deployment cannot take (see
    /// ``createRun(_:)``); nil when the run may be created.
    func admit(_ new: NewRun, _ sql: Transaction) async throws -> RunRecord? {
        let deployments = try await sql.rows("SELECT name, deleted_at FROM deployments WHERE id = \(new.deploymentID) FOR NO KEY UPDATE")
        if let key = new.idempotencyKey,
           let existing = try await sql.rows("\(unescaped: Self.runSelect) WHERE runs.deployment_id = \(new.deploymentID) AND runs.idempotency_key = \(key)").first {
            return try RunRecord(row: existing)
        }
        guard let deployment = deployments.first else {
            throw refusal(.database, "insert or update on table \"runs\" violates foreign key constraint (no deployment \(new.deploymentID))")
        }
        if try deployment.date("deleted_at") != nil {
            throw refusal(.illegalTransition, "deployment \(try deployment.value("name", as: String.self)) was deleted; it takes no more runs")
        }
        let blockers = try await sql.rows("""
            SELECT id, hook, status FROM runs WHERE deployment_id = \(new.deploymentID) AND status IN ('queued', 'running', 'cancelling')
            ORDER BY (hook = 'delete') DESC, id LIMIT 1
            """)
        guard let blocker = blockers.first else { return nil }
        let id = try blocker.value("id", as: RecordID.self), hook = try blocker.value("hook", as: String.self)
        let status = try blocker.value("status", as: String.self)
        if hook == "delete" {
            throw refusal(.illegalTransition, "the deployment is being deleted by run \(id) (\(status)); nothing can follow it")
        }
        if new.exclusive {
            throw refusal(.illegalTransition, "the deployment has run \(id) (\(hook), \(status)) queued or in progress; a \(new.hook.rawValue) runs alone")
        }
        return nil
    }

    /// Inserts an admitted run with `inputsJSON`; a missing driver version is
    /// refused without using up an id.
    func insertRun(_ new: NewRun, inputsJSON: String, now: Double?, _ sql: Transaction) async throws -> RunRecord {
        let rows = try await sql.rows("""
            WITH changed AS (
                INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, idempotency_key,
                                  not_before, created_at, request_digest)
                SELECT \(new.deploymentID), \(new.hook.rawValue),
                       'queued', 1, \(inputsJSON), \(new.contextJSON), v.id, \(new.idempotencyKey)::text, \(new.notBefore?.epochSeconds)::float8,
                       \(now: now), \(new.requestDigest)::text
                FROM driver_versions v WHERE v.id = \(new.driverVersionID)
                RETURNING *)
            \(unescaped: Self.changedRuns)
            """)
        guard let row = rows.first else {
            throw refusal(.database, "insert or update on table \"runs\" violates foreign key constraint (no driver version \(new.driverVersionID))")
        }
        return try RunRecord(row: row)
    }

    /// The run with this id, or nil.
    public func run(id: RecordID) async throws(StateStoreError) -> RunRecord? {
        try decode(try await query("\(unescaped: Self.runSelect) WHERE runs.id = \(id)"), RunRecord.init(row:)).first
    }

    /// The newest runs matching `filter`, newest first; a deployment name
    /// matches its deleted namesakes too.
    public func runs(matching filter: RunFilter) async throws(StateStoreError) -> [RunRecord] {
        let rows = try await query("""
            \(unescaped: Self.runSelect)
            WHERE (\(filter.deployment)::text IS NULL OR deployments.name = \(filter.deployment)::text)
              AND (\(filter.status?.rawValue)::text IS NULL OR runs.status = \(filter.status?.rawValue)::text)
              AND (\(filter.beforeID)::bigint IS NULL OR runs.id < \(filter.beforeID)::bigint)
            ORDER BY runs.id DESC LIMIT \(max(0, filter.limit))
            """)
        return try decode(rows, RunRecord.init(row:))
    }

    /// Changes a run's status in one statement whose condition is
    /// ``RunStatus/allowedNext``: to `running` or `cancelling` the first
    /// start time is set; to `queued` the attempt grows by one, lease, end
    /// time and error are cleared and `notBefore` set; to a finished status
    /// the end time and `errorJSON` are stored and the lease released.
    /// An unknown run throws ``StateStoreError/Code/notFound``, a change the
    /// lifecycle does not allow ``StateStoreError/Code/illegalTransition``.
    @discardableResult
    public func changeRunStatus(id: RecordID, to next: RunStatus, errorJSON: String?, notBefore: Date?) async throws(StateStoreError) -> RunRecord {
        let now = fixedNow
        let from = RunStatus.allCases.filter { $0.canChange(to: next) }.map(\.rawValue)
        let change: PostgresQuery = switch next {
        case .queued:
            """
            UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, ended_at = NULL, error = NULL,
                not_before = \(notBefore?.epochSeconds)::float8
            WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *
            """
        case .running, .cancelling:
            """
            UPDATE runs SET status = \(next.rawValue), started_at = COALESCE(started_at, \(now: now))
            WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *
            """
        case .succeeded, .failed, .cancelled:
            """
            UPDATE runs SET status = \(next.rawValue), ended_at = \(now: now), error = \(errorJSON)::text, lease_owner = NULL, lease_expires_at = NULL
            WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *
            """
        }
        if let changed = try await changedRun(change) { return changed }
        guard let run = try await self.run(id: id) else { throw refusal(.notFound, "no run \(id)") }
        throw refusal(.illegalTransition, "run \(id) cannot go from \(run.status.rawValue) to \(next.rawValue)")
    }

    /// Starts the next attempt of a failed or cancelled run, or of a running
    /// or cancelling one whose lease expired (or that holds none) or whose
    /// owner is `abandonedOwner`: `queued`, attempt + 1, lease, end time and
    /// error cleared, `notBefore`, the replay policy and (when given) the
    /// driver version set, and its actions left `running` back to `pending`,
    /// all in one statement. Anything else throws ``StateStoreError/Code/illegalTransition``;
    /// a missing driver version ``StateStoreError/Code/database``.
    @discardableResult
    public func retryRun(
        id: RecordID, replayJSON: String?, driverVersionID: RecordID?, notBefore: Date?, abandonedOwner: LeaseOwner?,
        handingOn failure: AttemptFailure?
    ) async throws(StateStoreError) -> RunRecord {
        let now = fixedNow
        let change: PostgresQuery = """
            UPDATE runs SET status = 'queued', attempt = attempt + 1, lease_owner = NULL, lease_expires_at = NULL, ended_at = NULL,
                error = NULL, not_before = \(notBefore?.epochSeconds)::float8, replay = \(replayJSON)::text,
                driver_version_id = COALESCE(\(driverVersionID)::bigint, driver_version_id)
            WHERE id = \(id) AND (status IN ('failed', 'cancelled') OR (status IN ('running', 'cancelling')
                AND (lease_owner = \(abandonedOwner?.description)::text OR lease_expires_at IS NULL OR lease_expires_at < \(now: now))))
            RETURNING *
            """
        let handedOn = try await handOn(id: id, failure: failure, when: { !$0.status.isFinished }, change: change)
        if let handedOn { return handedOn }
        guard let run = try await self.run(id: id) else { throw refusal(.notFound, "no run \(id)") }
        let reason = run.status == .running || run.status == .cancelling
            ? "it is \(run.status.rawValue) and its worker's lease is still valid"
            : "it is \(run.status.rawValue) (only failed, cancelled, or abandoned running runs can be retried)"
        throw refusal(.illegalTransition, "run \(id) cannot be retried: \(reason)")
    }

    /// Replaces the inputs and frozen context of a run that has not started
    /// an action (attempt 1, no action runs, not finished); anything else
    /// throws ``StateStoreError/Code/illegalTransition``, an unknown run ``StateStoreError/Code/notFound``.
    @discardableResult
    public func refreezeRun(id: RecordID, inputsJSON: String, contextJSON: String) async throws(StateStoreError) -> RunRecord {
        let change: PostgresQuery = """
            UPDATE runs SET inputs = \(inputsJSON), context = \(contextJSON)
            WHERE id = \(id) AND attempt = 1 AND status NOT IN ('succeeded', 'failed', 'cancelled')
              AND NOT EXISTS (SELECT 1 FROM action_runs WHERE run_id = \(id))
            RETURNING *
            """
        if let changed = try await changedRun(change) { return changed }
        guard try await self.run(id: id) != nil else { throw refusal(.notFound, "no run \(id)") }
        throw refusal(.illegalTransition, "run \(id) has started its actions; its context stays as it was frozen")
    }

    /// Deletes finished runs that ended before `date` with their actions,
    /// steps, logs, run ends and webhook deliveries (their backups stay,
    /// without a run); returns how many runs went.
    @discardableResult
    public func pruneRuns(endedBefore date: Date) async throws(StateStoreError) -> Int {
        let rows = try await query("""
            WITH gone AS (DELETE FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled') AND ended_at < \(date.epochSeconds) RETURNING 1)
            SELECT count(*)::bigint AS count FROM gone
            """)
        return try decode(rows) { try $0.value("count", as: Int.self) }.first ?? 0
    }

    /// How each attempt of the run ended, in attempt order (`attempt_ends`, by its index on `run_id`).
    public func attemptEnds(ofRun runID: RecordID) async throws(StateStoreError) -> [AttemptEnd] {
        let rows = try await query("""
            SELECT attempt, ended_by, status, error, action_error, ended_at FROM attempt_ends WHERE run_id = \(runID) ORDER BY attempt, id
            """)
        return try decode(rows, AttemptEnd.init(row:))
    }

    /// Runs `change` (an `UPDATE runs ... RETURNING *`) and returns the run it
    /// changed, or nil when it changed none; with `releasingActions`, the
    /// run's actions left `running` go back to `pending` in the same statement.
    func changedRun(_ change: PostgresQuery, releasingActions: Bool = false) async throws(StateStoreError) -> RunRecord? {
        try decode(try await query(Self.changedRunStatement(change, releasingActions: releasingActions)), RunRecord.init(row:)).first
    }

    /// `change` wrapped to return the changed run with its deployment's name (see ``changedRun(_:releasingActions:)``).
    static func changedRunStatement(_ change: PostgresQuery, releasingActions: Bool) -> PostgresQuery {
        var statement: PostgresQuery = "WITH changed AS ("
        statement.sql += change.sql + ")"
        statement.binds = change.binds
        if releasingActions {
            statement.sql += ", released AS (UPDATE action_runs SET status = 'pending', ended_at = NULL "
                + "WHERE run_id IN (SELECT id FROM changed) AND status = 'running') "
        }
        statement.sql += " " + Self.changedRuns
        return statement
    }

    /// Runs `change` (an `UPDATE runs ... RETURNING *` of run `id`) as
    /// ``changedRun(_:releasingActions:)`` does, releasing its running
    /// actions, in one transaction with the run's row locked first; when it
    /// changed the run and `handsOn` says the run as it was is handed to its
    /// next attempt without an end, keeps that attempt's end: a flow's retry
    /// with `failure`, else a recovery saying whose lease was given up.
    func handOn(
        id: RecordID, failure: AttemptFailure?, when handsOn: @escaping @Sendable (RunRecord) -> Bool, change: PostgresQuery
    ) async throws(StateStoreError) -> RunRecord? {
        let now = fixedNow
        return try await transaction { sql in
            let locked = try await sql.rows("""
                SELECT runs.*, deployments.name AS deployment_name, \(now: now) AS store_now
                FROM runs JOIN deployments ON deployments.id = runs.deployment_id WHERE runs.id = \(id) FOR UPDATE OF runs
                """)
            guard let row = locked.first else { return nil }
            let before = try RunRecord(row: row), storeNow = try row.requiredDate("store_now")
            guard let changed = try await sql.rows(Self.changedRunStatement(change, releasingActions: true)).first else { return nil }
            if handsOn(before) {
                let end = AttemptEnd.handedOn(before, failure: failure, now: storeNow)
                try await sql.execute("""
                    INSERT INTO attempt_ends (run_id, attempt, ended_by, status, error, action_error, ended_at)
                    VALUES (\(id), \(end.attempt), \(end.endedBy.rawValue), \(end.status.rawValue), \(end.errorJSON)::text,
                            \(end.actionErrorJSON)::text, \(end.endedAt.epochSeconds))
                    """)
            }
            return try RunRecord(row: changed)
        }
    }
}
