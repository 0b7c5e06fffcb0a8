public import FlowModel
import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    // MARK: Action runs

    /// Records the planned actions of a run as `pending`, in order, after
    /// the ones it has (positions count from the next free one, one per
    /// planned action); actions already recorded, by name, are kept as they
    /// are, and a name planned twice is recorded once. Returns all of the
    /// run's actions. A missing run throws ``StateStoreError/Code/database``
    /// (when there is something to plan).
    @discardableResult
    public func planActionRuns(runID: RecordID, actions: [(name: String, mode: ActionMode)]) async throws(StateStoreError) -> [ActionRunRecord] {
        guard !actions.isEmpty else { return try await actionRuns(runID: runID) }
        var seen = Set<[UInt8]>()
        var names: [String] = [], modes: [String] = [], offsets: [Int] = []
        for (offset, action) in actions.enumerated() where seen.insert(Array(action.name.utf8)).inserted {
            names.append(action.name)
            modes.append(action.mode.rawValue)
            offsets.append(offset)
        }
        return try await transaction { sql in
            // Holding the run's row: a concurrent planner of the same run waits, then sees these.
            let runs = try await sql.rows("SELECT id FROM runs WHERE id = \(runID) FOR NO KEY UPDATE")
            guard !runs.isEmpty else {
                throw self.refusal(.database, "insert or update on table \"action_runs\" violates foreign key constraint (no run \(runID))")
            }
            let rows = try await sql.rows("""
                WITH start AS (SELECT COALESCE(MAX(position) + 1, 0) AS first FROM action_runs WHERE run_id = \(runID)),
                added AS (
                    INSERT INTO action_runs (run_id, name, mode, position, status)
                    SELECT \(runID), a.name, a.mode, start.first + a.place, 'pending'
                    FROM unnest(\(names)::text[], \(modes)::text[], \(offsets)::bigint[]) AS a (name, mode, place), start
                    WHERE NOT EXISTS (SELECT 1 FROM action_runs e WHERE e.run_id = \(runID) AND e.name = a.name)
                    ORDER BY a.place
                    RETURNING *)
                SELECT * FROM added UNION ALL SELECT * FROM action_runs WHERE run_id = \(runID)
                ORDER BY position
                """)
            return try rows.map(ActionRunRecord.init(row:))
        }
    }

    /// The action runs of a run, in execution order.
    public func actionRuns(runID: RecordID) async throws(StateStoreError) -> [ActionRunRecord] {
        try decode(try await query("SELECT * FROM action_runs WHERE run_id = \(runID) ORDER BY position"), ActionRunRecord.init(row:))
    }

    /// Changes an action run's status in one statement whose condition is
    /// ``ActionRunStatus/allowedNext``: `running` counts an attempt, clears
    /// the error, stamps the start and stores `isolation`; `pending` clears
    /// the end; a finished status stores the end and `errorJSON`. An unknown
    /// action run throws ``StateStoreError/Code/notFound``, a change the
    /// lifecycle does not allow ``StateStoreError/Code/illegalTransition``.
    @discardableResult
    public func changeActionRunStatus(
        id: RecordID, to next: ActionRunStatus, errorJSON: String?, isolation: String?
    ) async throws(StateStoreError) -> ActionRunRecord {
        let now = fixedNow
        let from = ActionRunStatus.allCases.filter { $0.canChange(to: next) }.map(\.rawValue)
        let change: PostgresQuery = switch next {
        case .running:
            """
            UPDATE action_runs SET status = 'running', attempts = attempts + 1, error = NULL, started_at = \(now: now), ended_at = NULL,
                isolation = \(isolation)::text
            WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *
            """
        case .pending:
            "UPDATE action_runs SET status = 'pending', ended_at = NULL WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *"
        case .succeeded, .failed, .cancelled, .skipped:
            """
            UPDATE action_runs SET status = \(next.rawValue), error = \(errorJSON)::text, ended_at = \(now: now)
            WHERE id = \(id) AND status = ANY(\(from)::text[]) RETURNING *
            """
        }
        if let changed = try decode(try await query(change), ActionRunRecord.init(row:)).first { return changed }
        guard let current = try decode(try await query("SELECT * FROM action_runs WHERE id = \(id)"), ActionRunRecord.init(row:)).first else {
            throw refusal(.notFound, "no action run \(id)")
        }
        throw refusal(.illegalTransition,
            "action \"\(current.name)\" of run \(current.runID) cannot go from \(current.status.rawValue) to \(next.rawValue)")
    }

    // MARK: Steps

    /// Records a step as `running` before it executes; returns its id. A
    /// step recorded already (same action run, attempt and seq) or of a
    /// missing action run throws ``StateStoreError/Code/database`` without using up an id.
    public func beginStep(_ step: NewStep, divergenceJSON: String?) async throws(StateStoreError) -> RecordID {
        let now = fixedNow
        let step = step.storable
        let rows = try await query("""
            INSERT INTO steps (action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, started_at, divergence)
            SELECT a.id, \(step.attempt), \(step.seq), \(step.kind.rawValue), \(step.name), \(step.argsJSON), \(step.argsDigest), 'running', false,
                   \(now: now), \(divergenceJSON)::text
            FROM action_runs a
            WHERE a.id = \(step.actionRunID)
              AND NOT EXISTS (SELECT 1 FROM steps s WHERE s.action_run_id = a.id AND s.attempt = \(step.attempt) AND s.seq = \(step.seq))
            RETURNING id
            """)
        if let id = try decode(rows, { try $0.value("id", as: RecordID.self) }).first { return id }
        throw try await stepRefusal([step])
    }

    /// Records steps answered from an earlier attempt (`replayed`, the
    /// recorded result, nothing executed), all or none: one that is recorded
    /// already, twice in the batch, or of a missing action run throws
    /// ``StateStoreError/Code/database`` and writes nothing.
    public func recordReplayedSteps(_ steps: [(step: NewStep, resultJSON: String?)]) async throws(StateStoreError) {
        guard !steps.isEmpty else { return }
        var keys = Set<[Int64]>()
        for (step, _) in steps where !keys.insert([step.actionRunID, Int64(step.attempt), Int64(step.seq)]).inserted {
            throw refusal(.database,
                "duplicate key value violates unique constraint steps_action_run_id_attempt_seq_key (step \(step.seq) of attempt \(step.attempt) twice)")
        }
        let now = fixedNow
        let batch = steps.map(\.step.storable)
        let rows = try await query("""
            WITH batch AS (
                SELECT * FROM unnest(\(batch.map(\.actionRunID))::bigint[], \(batch.map(\.attempt))::bigint[], \(batch.map(\.seq))::bigint[],
                                     \(batch.map(\.kind.rawValue))::text[], \(batch.map(\.name))::text[], \(batch.map(\.argsJSON))::text[],
                                     \(batch.map(\.argsDigest))::text[], \(NullableArray(steps.map(\.resultJSON)))::text[])
                    WITH ORDINALITY AS b (action_run_id, attempt, seq, kind, name, args, args_digest, result, position)),
            valid AS (
                SELECT NOT EXISTS (SELECT 1 FROM batch WHERE NOT EXISTS (SELECT 1 FROM action_runs a WHERE a.id = batch.action_run_id))
                   AND NOT EXISTS (SELECT 1 FROM batch JOIN steps s
                                   ON s.action_run_id = batch.action_run_id AND s.attempt = batch.attempt AND s.seq = batch.seq) AS ok)
            INSERT INTO steps (action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, result, started_at, ended_at)
            SELECT action_run_id, attempt, seq, kind, name, args, args_digest, 'replayed', true, result, \(now: now), \(now: now)
            FROM batch, valid WHERE valid.ok ORDER BY position
            RETURNING id
            """)
        if rows.isEmpty { throw try await stepRefusal(batch) }
    }

    /// Why steps could not be recorded: a missing action run, or a step recorded already.
    private func stepRefusal(_ steps: [NewStep]) async throws(StateStoreError) -> StateStoreError {
        let ids = Array(Set(steps.map(\.actionRunID)))
        let found = try decode(try await query("SELECT id FROM action_runs WHERE id = ANY(\(ids)::bigint[])")) { try $0.value("id", as: RecordID.self) }
        if let missing = ids.first(where: { !found.contains($0) }) {
            return refusal(.database, "insert or update on table \"steps\" violates foreign key constraint (no action run \(missing))")
        }
        return refusal(.database, "duplicate key value violates unique constraint steps_action_run_id_attempt_seq_key (a step is recorded already)")
    }

    /// Ends a running step as `succeeded` or `failed` with its result or
    /// error. Any other ending status throws ``StateStoreError/Code/illegalTransition``
    /// before the step is looked up; a step that is not running too; an
    /// unknown step ``StateStoreError/Code/notFound``.
    public func finishStep(id: RecordID, status: StepStatus, resultJSON: String?, errorJSON: String?) async throws(StateStoreError) {
        guard StepStatus.running.canChange(to: status) else {
            throw refusal(.illegalTransition, "step \(id) cannot end as \(status.rawValue) (expected succeeded or failed)")
        }
        let now = fixedNow
        let rows = try await query("""
            UPDATE steps SET status = \(status.rawValue), result = \(resultJSON)::text, error = \(errorJSON)::text, ended_at = \(now: now)
            WHERE id = \(id) AND status = 'running' RETURNING id
            """)
        guard rows.isEmpty else { return }
        guard let current = try decode(try await query("SELECT status FROM steps WHERE id = \(id)"), { try $0.value("status", as: String.self) }).first else {
            throw refusal(.notFound, "no step \(id)")
        }
        throw refusal(.illegalTransition, "step \(id) cannot go from \(current) to \(status.rawValue)")
    }

    /// Ends running steps in order, one statement each; one that ended
    /// already with the same status is skipped, and the first refused throws
    /// (the ones before it stay ended).
    public func finishSteps(_ ends: [StepEnd]) async throws(StateStoreError) {
        for end in ends {
            do {
                try await finishStep(id: end.id, status: end.status, resultJSON: end.resultJSON, errorJSON: end.errorJSON)
            } catch where error.code == .illegalTransition {
                let current = try decode(try await query("SELECT status FROM steps WHERE id = \(end.id)"), { try $0.value("status", as: String.self) }).first
                guard current == end.status.rawValue else { throw error }
            }
        }
    }

    /// The steps of an action run, by attempt and sequence number.
    public func steps(actionRunID: RecordID) async throws(StateStoreError) -> [StepRecord] {
        try decode(try await query("SELECT * FROM steps WHERE action_run_id = \(actionRunID) ORDER BY attempt, seq"), StepRecord.init(row:))
    }

    // MARK: Logs

    /// Appends log lines in one statement, in order (ids grow in the order
    /// given). A line of a missing run refuses the whole batch with
    /// ``StateStoreError/Code/database``. NUL characters, which PostgreSQL
    /// text cannot hold, are stored as U+FFFD (as every store does, see ``StorableText``).
    public func appendLogs(_ lines: [NewLogLine]) async throws(StateStoreError) {
        guard !lines.isEmpty else { return }
        let lines = lines.map(\.storable)
        let runIDs = lines.map(\.runID)
        let rows = try await query("""
            WITH batch AS (
                SELECT * FROM unnest(\(runIDs)::bigint[], \(NullableArray(lines.map(\.action)))::text[],
                                     \(lines.map(\.attempt))::bigint[], \(lines.map(\.time.epochSeconds))::float8[],
                                     \(lines.map(\.level.rawValue))::text[], \(lines.map(\.logger))::text[],
                                     \(lines.map(\.message))::text[])
                    WITH ORDINALITY AS b (run_id, action, attempt, time, level, logger, message, position))
            INSERT INTO logs (run_id, action, attempt, time, level, logger, message)
            SELECT run_id, action, attempt, time, level, logger, message FROM batch
            WHERE NOT EXISTS (SELECT 1 FROM batch m WHERE NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = m.run_id))
            ORDER BY position
            RETURNING id
            """)
        if rows.isEmpty {
            throw refusal(.database, "insert or update on table \"logs\" violates foreign key constraint (a line names a run that does not exist)")
        }
    }

    /// A run's log lines with an id above `afterID`, oldest first, at most
    /// `limit` (all of them when `limit` is negative, as SQLite's `LIMIT -1`).
    public func logs(runID: RecordID, afterID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord] {
        let bound: Int? = limit < 0 ? nil : limit
        let rows = try await query("SELECT * FROM logs WHERE run_id = \(runID) AND id > \(afterID) ORDER BY id LIMIT \(bound)::bigint")
        return try decode(rows, LogRecord.init(row:))
    }

    /// A run's newest `limit` log lines, oldest first (read from the end of its index).
    public func lastLogs(runID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord] {
        let bound = max(0, limit)
        let rows = try await query("SELECT * FROM logs WHERE run_id = \(runID) ORDER BY id DESC LIMIT \(bound)::bigint")
        return try decode(rows, LogRecord.init(row:)).reversed()
    }
}
