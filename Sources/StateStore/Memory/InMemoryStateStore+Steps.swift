public import FlowModel
import Foundation

extension InMemoryStateStore {
    // MARK: Action runs

    /// Records the planned actions of a run as `pending`, in order; actions
    /// already recorded (by name, also earlier in the same list) are kept as
    /// they are. New actions go after the run's existing ones: the n-th entry
    /// of `actions` gets position (largest existing + 1) + n, skipped entries
    /// included. Returns all the run's actions by position. Actions for an
    /// unknown run throw ``StateStoreError/Code/database`` (SQLite's foreign key).
    @discardableResult
    public func planActionRuns(runID: RecordID, actions: [(name: String, mode: ActionMode)]) async throws(StateStoreError) -> [ActionRunRecord] {
        if !actions.isEmpty, tables.runs[runID] == nil {
            throw missingReference("run \(runID)")
        }
        let start = (tables.actionRuns.rows.filter { $0.runID == runID }.map(\.position).max() ?? -1) + 1
        for (offset, action) in actions.enumerated()
        where !tables.actionRuns.rows.contains(where: { $0.runID == runID && StoredText.same($0.name, action.name) }) {
            tables.actionRuns.insert { id in
                ActionRunRecord(id: id, runID: runID, name: action.name, mode: action.mode, position: start + offset,
                                status: .pending, attempts: 0, errorJSON: nil, startedAt: nil, endedAt: nil)
            }
        }
        return actionRunsByPosition(runID)
    }

    /// The action runs of a run, in execution order.
    public func actionRuns(runID: RecordID) async throws(StateStoreError) -> [ActionRunRecord] {
        actionRunsByPosition(runID)
    }

    /// Changes an action run's status, checked against ``ActionRunStatus/allowedNext``:
    /// `running` counts an attempt, clears the error and the end time and
    /// stamps the start; `pending` clears the end time; a finished status
    /// stores `errorJSON` and the end time. An unknown id throws
    /// ``StateStoreError/Code/notFound``.
    @discardableResult
    public func changeActionRunStatus(
        id: RecordID, to next: ActionRunStatus, errorJSON: String?, isolation: String?
    ) async throws(StateStoreError) -> ActionRunRecord {
        let now = clock.now.asStored
        guard let current = tables.actionRuns[id] else {
            throw failure(.notFound, "no action run \(id)")
        }
        guard current.status.canChange(to: next) else {
            throw failure(.illegalTransition,
                "action \"\(current.name)\" of run \(current.runID) cannot go from \(current.status.rawValue) to \(next.rawValue)")
        }
        let changed = tables.actionRuns.update(id) { action in
            action.status = next
            switch next {
            case .running:
                action.attempts += 1
                action.errorJSON = nil
                action.startedAt = now
                action.endedAt = nil
                action.isolation = isolation
            case .pending:
                action.endedAt = nil
            case .succeeded, .failed, .cancelled, .skipped:
                action.errorJSON = errorJSON
                action.endedAt = now
            }
        }
        guard let changed else { throw failure(.notFound, "no action run \(id)") }
        return changed
    }

    // MARK: Steps

    /// Records a step as `running` before it executes; returns its id.
    /// `divergenceJSON` marks the step where replay stopped. An unknown action
    /// run, or an (attempt, seq) already recorded for it, throws
    /// ``StateStoreError/Code/database`` (SQLite's constraints).
    public func beginStep(_ step: NewStep, divergenceJSON: String? = nil) async throws(StateStoreError) -> RecordID {
        let now = clock.now.asStored
        let step = step.storable
        try checkNewSteps([step])
        return tables.steps.insert { id in
            StepRecord(id: id, actionRunID: step.actionRunID, attempt: step.attempt, seq: step.seq, kind: step.kind, name: step.name,
                       argsJSON: step.argsJSON, argsDigest: step.argsDigest, status: .running, replayed: false,
                       resultJSON: nil, errorJSON: nil, startedAt: now, endedAt: nil, divergenceJSON: divergenceJSON)
        }.id
    }

    /// Records steps answered from an earlier attempt (`replayed`, nothing
    /// executed, started and ended now), all or none: one that
    /// ``beginStep(_:divergenceJSON:)`` would refuse refuses the whole list.
    public func recordReplayedSteps(_ steps: [(step: NewStep, resultJSON: String?)]) async throws(StateStoreError) {
        let now = clock.now.asStored
        guard !steps.isEmpty else { return }
        try checkNewSteps(steps.map(\.step))
        for (step, result) in steps.map({ ($0.step.storable, $0.resultJSON) }) {
            tables.steps.insert { id in
                StepRecord(id: id, actionRunID: step.actionRunID, attempt: step.attempt, seq: step.seq, kind: step.kind, name: step.name,
                           argsJSON: step.argsJSON, argsDigest: step.argsDigest, status: .replayed, replayed: true,
                           resultJSON: result, errorJSON: nil, startedAt: now, endedAt: now, divergenceJSON: nil)
            }
        }
    }

    /// Ends a running step as `succeeded` or `failed`. Any other `status`
    /// throws ``StateStoreError/Code/illegalTransition`` before the step is
    /// looked at; an unknown step ``StateStoreError/Code/notFound``; a step
    /// that is not running ``StateStoreError/Code/illegalTransition``.
    public func finishStep(
        id: RecordID, status: StepStatus, resultJSON: String? = nil, errorJSON: String? = nil
    ) async throws(StateStoreError) {
        let now = clock.now.asStored
        guard StepStatus.running.canChange(to: status) else {
            throw failure(.illegalTransition, "step \(id) cannot end as \(status.rawValue) (expected succeeded or failed)")
        }
        guard let current = tables.steps[id] else {
            throw failure(.notFound, "no step \(id)")
        }
        guard current.status == .running else {
            throw failure(.illegalTransition, "step \(id) cannot go from \(current.status.rawValue) to \(status.rawValue)")
        }
        tables.steps.update(id) { step in
            step.status = status
            step.resultJSON = resultJSON
            step.errorJSON = errorJSON
            step.endedAt = now
        }
    }

    /// Ends running steps, all or none: each is checked as
    /// ``finishStep(id:status:resultJSON:errorJSON:)`` checks it before any
    /// changes, except that one that ended already with the same status is skipped.
    public func finishSteps(_ ends: [StepEnd]) async throws(StateStoreError) {
        let ending = try checkEnds(ends)
        let now = clock.now.asStored
        for end in ending { apply(end, at: now) }
    }

    /// Ends `ends` and records `step` as running, all or none.
    public func beginStep(_ step: NewStep, divergenceJSON: String?, finishingFirst ends: [StepEnd]) async throws(StateStoreError) -> RecordID {
        let ending = try checkEnds(ends)
        try checkNewSteps([step.storable])
        let now = clock.now.asStored
        for end in ending { apply(end, at: now) }
        return try await beginStep(step, divergenceJSON: divergenceJSON)
    }

    /// The ends to apply: refused as ``finishSteps(_:)`` says, repeats left out.
    private func checkEnds(_ ends: [StepEnd]) throws(StateStoreError) -> [StepEnd] {
        var ending = Set<RecordID>(), apply: [StepEnd] = []
        for end in ends {
            guard StepStatus.running.canChange(to: end.status) else {
                throw failure(.illegalTransition, "step \(end.id) cannot end as \(end.status.rawValue) (expected succeeded or failed)")
            }
            guard let current = tables.steps[end.id] else { throw failure(.notFound, "no step \(end.id)") }
            if current.status == end.status || (ending.contains(end.id) && apply.last(where: { $0.id == end.id })?.status == end.status) { continue }
            guard current.status == .running, ending.insert(end.id).inserted else {
                throw failure(.illegalTransition, "step \(end.id) cannot go from \(current.status.rawValue) to \(end.status.rawValue)")
            }
            apply.append(end)
        }
        return apply
    }

    private func apply(_ end: StepEnd, at now: Date) {
        tables.steps.update(end.id) { step in
            step.status = end.status
            step.resultJSON = end.resultJSON
            step.errorJSON = end.errorJSON
            step.endedAt = now
        }
    }

    /// The steps of an action run, by attempt and sequence number.
    public func steps(actionRunID: RecordID) async throws(StateStoreError) -> [StepRecord] {
        tables.steps.rows.filter { $0.actionRunID == actionRunID }.sorted { a, b in
            a.attempt == b.attempt ? a.seq < b.seq : a.attempt < b.attempt
        }
    }

    // MARK: Logs

    /// Appends log lines, all or none: a line of an unknown run throws
    /// ``StateStoreError/Code/database`` (SQLite's foreign key) and stores nothing.
    public func appendLogs(_ lines: [NewLogLine]) async throws(StateStoreError) {
        guard !lines.isEmpty else { return }
        for line in lines where tables.runs[line.runID] == nil {
            throw missingReference("run \(line.runID)")
        }
        for line in lines.map(\.storable) {
            tables.logs.insert { id in
                LogRecord(id: id, runID: line.runID, action: line.action, attempt: line.attempt, time: line.time.asStored,
                          level: line.level, logger: line.logger, message: line.message)
            }
        }
    }

    /// A run's log lines with an id above `afterID`, oldest first, at most
    /// `limit`; a negative `limit` means no limit (SQLite's `LIMIT -1`).
    public func logs(runID: RecordID, afterID: RecordID = 0, limit: Int = 10_000) async throws(StateStoreError) -> [LogRecord] {
        let lines = tables.logs.rows.lazy.filter { $0.runID == runID && $0.id > afterID }
        return limit < 0 ? Array(lines) : Array(lines.prefix(limit))
    }

    /// A run's newest `limit` log lines, oldest first.
    public func lastLogs(runID: RecordID, limit: Int) async throws(StateStoreError) -> [LogRecord] {
        Array(tables.logs.rows.filter { $0.runID == runID }.suffix(max(0, limit)))
    }

    // MARK: Helpers

    /// The action runs of a run, by position.
    func actionRunsByPosition(_ runID: RecordID) -> [ActionRunRecord] {
        tables.actionRuns.rows.filter { $0.runID == runID }.sorted { $0.position < $1.position }
    }

    /// Refuses steps SQLite's constraints would refuse: an unknown action run
    /// (foreign key) or an (action run, attempt, seq) recorded already or
    /// twice in `steps` (unique), as ``StateStoreError/Code/database``.
    func checkNewSteps(_ steps: [NewStep]) throws(StateStoreError) {
        struct Key: Hashable {
            var actionRunID: RecordID
            var attempt: Int
            var seq: Int
        }
        var taken = Set(tables.steps.rows.map { Key(actionRunID: $0.actionRunID, attempt: $0.attempt, seq: $0.seq) })
        for step in steps {
            guard tables.actionRuns[step.actionRunID] != nil else {
                throw missingReference("action run \(step.actionRunID)")
            }
            guard taken.insert(Key(actionRunID: step.actionRunID, attempt: step.attempt, seq: step.seq)).inserted else {
                throw failure(.database, "UNIQUE constraint failed: steps.action_run_id, steps.attempt, steps.seq "
                    + "(action run \(step.actionRunID) has step \(step.seq) of attempt \(step.attempt) already)")
            }
        }
    }
}
