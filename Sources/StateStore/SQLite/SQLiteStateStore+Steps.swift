public import FlowModel
import Foundation
import GRDB

extension SQLiteStateStore {
    // MARK: Action runs

    /// Records the planned actions of a run as `pending`, in execution order.
    /// Actions already recorded for the run (by name) are kept as they are.
    @discardableResult
    public func planActionRuns(runID: RecordID, actions: [(name: String, mode: ActionMode)]) async throws(StateStoreError) -> [ActionRunRecord] {
        try await write { db in
            let start = try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM action_runs WHERE run_id = ?"), arguments: [runID]) ?? 0
            let insert = try db.cachedStatement(sql: """
                INSERT INTO action_runs (run_id, name, mode, position, status) VALUES (?, ?, ?, ?, 'pending')
                ON CONFLICT (run_id, name) DO NOTHING
                """)
            for (offset, action) in actions.enumerated() {
                try insert.execute(arguments: [runID, action.name, action.mode.rawValue, start + offset])
            }
            return try Self.fetchActionRuns(db, runID: runID)
        }
    }

    /// The action runs of a run, in execution order.
    public func actionRuns(runID: RecordID) async throws(StateStoreError) -> [ActionRunRecord] {
        try await read { db in try Self.fetchActionRuns(db, runID: runID) }
    }

    static func fetchActionRuns(_ db: Database, runID: RecordID) throws -> [ActionRunRecord] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM action_runs WHERE run_id = ? ORDER BY position"), arguments: [runID])
            .map(ActionRunRecord.init(row:))
    }

    /// Changes an action run's status, checked against
    /// ``ActionRunStatus/allowedNext``. Starting (`running`) counts an attempt
    /// and clears the previous error; finishing sets the end time and error.
    @discardableResult
    public func changeActionRunStatus(
        id: RecordID, to next: ActionRunStatus, errorJSON: String?, isolation: String?
    ) async throws(StateStoreError) -> ActionRunRecord {
        let now = clock.now
        return try await write { db in
            guard let current = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM action_runs WHERE id = ?"), arguments: [id]).map(ActionRunRecord.init(row:)) else {
                throw StateStoreError(.notFound, location: self.path, "no action run \(id)")
            }
            guard current.status.canChange(to: next) else {
                throw StateStoreError(.illegalTransition, location: self.path,
                    "action \"\(current.name)\" of run \(current.runID) cannot go from \(current.status.rawValue) to \(next.rawValue)")
            }
            switch next {
            case .running:
                try db.cachedStatement(sql: "UPDATE action_runs SET status = 'running', attempts = attempts + 1, error = NULL, started_at = ?, ended_at = NULL, isolation = ? WHERE id = ?").execute(arguments: [now.storedValue, isolation, id]
                )
            case .pending:
                try db.cachedStatement(sql: "UPDATE action_runs SET status = 'pending', ended_at = NULL WHERE id = ?").execute(arguments: [id])
            case .succeeded, .failed, .cancelled, .skipped:
                try db.cachedStatement(sql: "UPDATE action_runs SET status = ?, error = ?, ended_at = ? WHERE id = ?").execute(arguments: [next.rawValue, errorJSON, now.storedValue, id]
                )
            }
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM action_runs WHERE id = ?"), arguments: [id]) else {
                throw StateStoreError(.notFound, location: self.path, "no action run \(id)")
            }
            return try ActionRunRecord(row: row)
        }
    }

    // MARK: Steps

    /// Records a step as `running`, before it executes. Returns its id.
    /// `divergenceJSON` marks the step where replay stopped.
    public func beginStep(_ step: NewStep, divergenceJSON: String? = nil) async throws(StateStoreError) -> RecordID {
        try await beginStep(step, divergenceJSON: divergenceJSON, finishingFirst: [])
    }

    /// Ends `ends`, then records `step` as `running`, in one transaction:
    /// a refused end records nothing.
    public func beginStep(_ step: NewStep, divergenceJSON: String?, finishingFirst ends: [StepEnd]) async throws(StateStoreError) -> RecordID {
        let now = clock.now
        let step = step.storable
        return try await write { db in
            for end in ends { try self.finish(end, now: now, in: db, skippingRepeat: true) }
            try db.cachedStatement(sql: """
                INSERT INTO steps (action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, started_at, divergence)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'running', 0, ?, ?)
                """).execute(arguments: [step.actionRunID, step.attempt, step.seq, step.kind.rawValue, step.name,
                                         step.argsJSON, step.argsDigest, now.storedValue, divergenceJSON])
            return db.lastInsertedRowID
        }
    }

    /// Records steps answered from an earlier attempt: status `replayed`, the
    /// recorded result, nothing executed; all in one transaction.
    public func recordReplayedSteps(_ steps: [(step: NewStep, resultJSON: String?)]) async throws(StateStoreError) {
        let now = clock.now
        guard !steps.isEmpty else { return }
        try await write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO steps (action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, result, started_at, ended_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'replayed', 1, ?, ?, ?)
                """)
            for (step, result) in steps.map({ ($0.step.storable, $0.resultJSON) }) {
                try insert.execute(arguments: [step.actionRunID, step.attempt, step.seq, step.kind.rawValue, step.name,
                                               step.argsJSON, step.argsDigest, result, now.storedValue, now.storedValue])
            }
        }
    }

    /// Records the end of a running step (`succeeded` or `failed`) with its
    /// result or error. A step that is not `running` is refused.
    public func finishStep(
        id: RecordID, status: StepStatus, resultJSON: String? = nil, errorJSON: String? = nil
    ) async throws(StateStoreError) {
        let now = clock.now
        let end = StepEnd(id: id, status: status, resultJSON: resultJSON, errorJSON: errorJSON)
        try await write { db in try self.finish(end, now: now, in: db, skippingRepeat: false) }
    }

    /// Ends running steps in one transaction: one refused ends none; one
    /// that ended already with the same status is skipped.
    public func finishSteps(_ ends: [StepEnd]) async throws(StateStoreError) {
        guard !ends.isEmpty else { return }
        let now = clock.now
        try await write { db in
            for end in ends { try self.finish(end, now: now, in: db, skippingRepeat: true) }
        }
    }

    /// Ends one running step inside a write transaction; a status other than
    /// `succeeded` or `failed`, an unknown step or one not running throws
    /// (one that ended with the same status does not when `skippingRepeat`).
    private func finish(_ end: StepEnd, now: Date, in db: Database, skippingRepeat: Bool) throws {
        guard StepStatus.running.canChange(to: end.status) else {
            throw StateStoreError(.illegalTransition, location: path, "step \(end.id) cannot end as \(end.status.rawValue) (expected succeeded or failed)")
        }
        try db.cachedStatement(sql: "UPDATE steps SET status = ?, result = ?, error = ?, ended_at = ? WHERE id = ? AND status = 'running'")
            .execute(arguments: [end.status.rawValue, end.resultJSON, end.errorJSON, now.storedValue, end.id])
        if db.changesCount == 0 {
            guard let current = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM steps WHERE id = ?"), arguments: [end.id]) else {
                throw StateStoreError(.notFound, location: path, "no step \(end.id)")
            }
            if skippingRepeat && current == end.status.rawValue { return }
            throw StateStoreError(.illegalTransition, location: path, "step \(end.id) cannot go from \(current) to \(end.status.rawValue)")
        }
    }

    /// The steps of an action run, by attempt and sequence number.
    public func steps(actionRunID: RecordID) async throws(StateStoreError) -> [StepRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(StepRecord.columns) FROM steps WHERE action_run_id = ? ORDER BY attempt, seq"),
                             arguments: [actionRunID])
                .map(StepRecord.init(row:))
        }
    }

    // MARK: Logs

    /// Appends log lines in one transaction (a NUL kept as U+FFFD, see ``StorableText``).
    public func appendLogs(_ lines: [NewLogLine]) async throws(StateStoreError) {
        guard !lines.isEmpty else { return }
        let lines = lines.map(\.storable)
        try await write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO logs (run_id, action, attempt, time, level, logger, message) VALUES (?, ?, ?, ?, ?, ?, ?)")
            for line in lines {
                try insert.execute(arguments: [line.runID, line.action, line.attempt, line.time.storedValue,
                                               line.level.rawValue, line.logger, line.message])
            }
        }
    }

    /// A run's log lines with an id above `afterID`, oldest first, at most `limit`.
    public func logs(runID: RecordID, afterID: RecordID = 0, limit: Int = 10_000) async throws(StateStoreError) -> [LogRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM logs WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?"),
                             arguments: [runID, afterID, limit]).map(LogRecord.init(row:))
        }
    }

    /// A run's newest `limit` log lines, oldest first (by the `logs_by_run` index, from its end).
    public func lastLogs(runID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM logs WHERE run_id = ? ORDER BY id DESC LIMIT ?"),
                             arguments: [runID, max(0, limit)]).map(LogRecord.init(row:)).reversed()
        }
    }
}

extension ActionRunRecord {
    init(row: Row) throws {
        try self.init(
            id: row["id"], runID: row["run_id"], name: row["name"], mode: row.word("mode", of: "action_runs"), position: row["position"],
            status: row.word("status", of: "action_runs"), attempts: row["attempts"], errorJSON: row["error"],
            startedAt: row.date("started_at"), endedAt: row.date("ended_at"), isolation: row["isolation"]
        )
    }
}

extension StepRecord {
    /// The columns ``init(row:)`` reads, in its order. A run's page reads
    /// thousands of steps: by position, GRDB looks no column up by name
    /// (a case-insensitive search per column and row, most of the read's time).
    static let columns = "id, action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, result, error, started_at, ended_at, divergence"

    /// A row of `SELECT \(columns)`.
    init(row: Row) throws {
        try self.init(
            id: row[0], actionRunID: row[1], attempt: row[2], seq: row[3], kind: row.word(at: 4, "kind", of: "steps"),
            name: row[5], argsJSON: row[6], argsDigest: row[7],
            status: row.word(at: 8, "status", of: "steps"), replayed: row[9],
            resultJSON: row[10], errorJSON: row[11], startedAt: Date(storedValue: row[12]),
            endedAt: (row[13] as Double?).map(Date.init(storedValue:)), divergenceJSON: row[14]
        )
    }
}

extension LogRecord {
    init(row: Row) {
        self.init(
            id: row["id"], runID: row["run_id"], action: row["action"], attempt: row["attempt"],
            time: Date(storedValue: row["time"]), level: LogLevel(rawValue: row["level"]) ?? .info,
            logger: row["logger"], message: row["message"]
        )
    }
}
