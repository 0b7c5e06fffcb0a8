import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: action runs, steps, logs and pruning")
struct StepLogPruneConformance {
    @Test("action runs: planned in order, attempts counted, succeeded is final", arguments: StoreKind.allCases)
    func actionRuns(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            let actions = try await store.planActionRuns(runID: run.id, actions: [("drain", .pre), ("upgrade", .core), ("smoke", .post)])
            #expect(actions.map(\.id) == [1, 2, 3])
            #expect(actions.map(\.name) == ["drain", "upgrade", "smoke"])
            #expect(actions.map(\.mode) == [.pre, .core, .post])
            #expect(actions.map(\.position) == [0, 1, 2])
            #expect(actions.allSatisfy { $0.status == .pending && $0.attempts == 0 && $0.startedAt == nil && $0.runID == run.id })
            // Planning again keeps what exists.
            #expect(try await store.planActionRuns(runID: run.id, actions: [("drain", .pre)]) == actions)

            let drain = actions[0]
            time.advance(by: 1)
            let started = try await store.changeActionRunStatus(id: drain.id, to: .running)
            #expect(started.startedAt == time.now && started.endedAt == nil)
            time.advance(by: 1)
            let failed = try await store.changeActionRunStatus(id: drain.id, to: .failed, errorJSON: #"{"type":"CommandFailed"}"#)
            #expect(failed.attempts == 1 && failed.errorJSON == #"{"type":"CommandFailed"}"# && failed.endedAt == time.now)
            let pending = try await store.changeActionRunStatus(id: drain.id, to: .pending)
            #expect(pending.attempts == 1 && pending.endedAt == nil && pending.errorJSON == failed.errorJSON)
            #expect(started.isolation == nil)
            let again = try await store.changeActionRunStatus(id: drain.id, to: .running, errorJSON: nil, isolation: "user nobody")
            #expect(again.attempts == 2 && again.errorJSON == nil && again.isolation == "user nobody")
            try await store.changeActionRunStatus(id: drain.id, to: .succeeded)
            let done = try #require(try await store.actionRuns(runID: run.id).first)
            #expect(done.isolation == "user nobody", "the isolation of the last start is kept after the action ends")
            for next in ActionRunStatus.allCases {
                let error = await #expect(throws: StateStoreError.self) { try await store.changeActionRunStatus(id: drain.id, to: next) }
                #expect(error?.code == .illegalTransition)
            }
            #expect(try await store.actionRuns(runID: run.id).first == done)
            let skipped = await #expect(throws: StateStoreError.self) { try await store.changeActionRunStatus(id: actions[1].id, to: .succeeded) }
            #expect(skipped?.code == .illegalTransition) // pending → succeeded
            let unknown = await #expect(throws: StateStoreError.self) { try await store.changeActionRunStatus(id: 99, to: .running) }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("planning again adds new actions after the existing ones, per run", arguments: StoreKind.allCases)
    func replanning(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let deployment = try await store.makeDeployment()
            let run = try await store.makeRun(deployment), other = try await store.makeRun(deployment)
            try await store.planActionRuns(runID: run.id, actions: [("a", .pre), ("b", .core)])
            try await store.planActionRuns(runID: other.id, actions: [("a", .core)])
            let planned = try await store.planActionRuns(runID: run.id, actions: [("c", .post), ("a", .post), ("d", .post), ("c", .core)])
            #expect(planned.map(\.name) == ["a", "b", "c", "d"])
            #expect(planned.map(\.mode) == [.pre, .core, .post, .post])
            #expect(planned.map(\.id) == [1, 2, 4, 5])
            #expect(try await store.actionRuns(runID: other.id).map(\.position) == [0])
            #expect(try await store.actionRuns(runID: 99).isEmpty)
        }
    }

    @Test("actions of a missing run are refused; planning nothing is not", arguments: StoreKind.allCases)
    func actionsOfMissingRun(kind: StoreKind) async throws {
        try await withFreshStore(kind) { (store, _) async throws in // every `try` is inside #expect: say that the closure throws
            #expect(try await store.planActionRuns(runID: 99, actions: []).isEmpty)
            let error = await #expect(throws: StateStoreError.self) { try await store.planActionRuns(runID: 99, actions: [("a", .core)]) }
            #expect(error?.code == .database) // SQLite's foreign key
            #expect(try await store.actionRuns(runID: 99).isEmpty)
        }
    }

    @Test("steps: recorded before and after, replayed steps final, a finished step cannot change", arguments: StoreKind.allCases)
    func steps(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
            let step = NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: .primitive, name: "stop_components",
                               argsJSON: #"{"components":["server"]}"#, argsDigest: "d1")
            let id = try await store.beginStep(step, divergenceJSON: #"{"at":1}"#)
            #expect(id == 1)
            let begun = try #require(try await store.steps(actionRunID: action.id).first)
            #expect(begun.status == .running && !begun.replayed && begun.startedAt == time.now && begun.endedAt == nil)
            #expect(begun.divergenceJSON == #"{"at":1}"# && begun.argsJSON == step.argsJSON && begun.kind == .primitive)
            time.advance(by: 2)
            try await store.finishStep(id: id, status: .succeeded, resultJSON: #"{"stopped":["server"]}"#, errorJSON: nil)
            let finished = try #require(try await store.steps(actionRunID: action.id).first)
            #expect(finished.status == .succeeded && finished.resultJSON == #"{"stopped":["server"]}"# && finished.durationMilliseconds == 2000)
            for status in StepStatus.allCases {
                let error = await #expect(throws: StateStoreError.self) {
                    try await store.finishStep(id: id, status: status, resultJSON: nil, errorJSON: nil)
                }
                #expect(error?.code == .illegalTransition)
            }
            var replay = step
            replay.attempt = 2
            try await store.recordReplayedSteps([(replay, finished.resultJSON)])
            let replayedID = try #require(try await store.steps(actionRunID: action.id).last?.id)
            let refused = await #expect(throws: StateStoreError.self) {
                try await store.finishStep(id: replayedID, status: .succeeded, resultJSON: nil, errorJSON: nil)
            }
            #expect(refused?.code == .illegalTransition)
            let all = try await store.steps(actionRunID: action.id)
            #expect(all.map(\.attempt) == [1, 2])
            #expect(all[1].replayed && all[1].status == .replayed && all[1].resultJSON == finished.resultJSON)
            #expect(all[1].startedAt == time.now && all[1].endedAt == time.now && all[1].divergenceJSON == nil)
            #expect(all[0] == finished)
        }
    }

    @Test("steps are listed by attempt and seq; a failed step keeps its error", arguments: StoreKind.allCases)
    func stepOrder(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
            for (attempt, seq) in [(2, 1), (1, 2), (1, 1), (2, 3)] { _ = try await store.begin(action.id, attempt: attempt, seq: seq) }
            #expect(try await store.steps(actionRunID: action.id).map { "\($0.attempt).\($0.seq)" } == ["1.1", "1.2", "2.1", "2.3"])
            try await store.finishStep(id: 4, status: .failed, resultJSON: nil, errorJSON: #"{"type":"X"}"#)
            let failed = try #require(try await store.steps(actionRunID: action.id).last)
            #expect(failed.id == 4 && failed.status == .failed && failed.errorJSON == #"{"type":"X"}"# && failed.resultJSON == nil)
            #expect(try await store.steps(actionRunID: 99).isEmpty)
        }
    }

    @Test("a step recorded twice, of a missing action or unknown, is refused and nothing is written", arguments: StoreKind.allCases)
    func refusedSteps(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
            let first = try await store.begin(action.id, seq: 1)
            // SQLite's unique and foreign-key constraints: plain database failures.
            let twice = await #expect(throws: StateStoreError.self) { try await store.begin(action.id, seq: 1) }
            #expect(twice?.code == .database)
            let missing = await #expect(throws: StateStoreError.self) { try await store.begin(99, seq: 1) }
            #expect(missing?.code == .database)
            // A replayed batch with one bad step writes none of them.
            func replayed(_ seq: Int, attempt: Int = 2) -> (step: NewStep, resultJSON: String?) {
                (NewStep(actionRunID: action.id, attempt: attempt, seq: seq, kind: .task, name: "t", argsJSON: "{}", argsDigest: "x"), "null")
            }
            for batch in [[replayed(1), replayed(2), replayed(1, attempt: 1)], [replayed(1), replayed(2), replayed(2)]] {
                let error = await #expect(throws: StateStoreError.self) { try await store.recordReplayedSteps(batch) }
                #expect(error?.code == .database)
            }
            try await store.recordReplayedSteps([])
            #expect(try await store.steps(actionRunID: action.id).map(\.id) == [first])
            let unknown = await #expect(throws: StateStoreError.self) {
                try await store.finishStep(id: 424242, status: .failed, resultJSON: nil, errorJSON: nil)
            }
            #expect(unknown?.code == .notFound)
            // The ending status is checked before the step is looked up.
            let badStatus = await #expect(throws: StateStoreError.self) {
                try await store.finishStep(id: 424242, status: .replayed, resultJSON: nil, errorJSON: nil)
            }
            #expect(badStatus?.code == .illegalTransition)
            #expect(try await store.begin(action.id, seq: 2) == first + 1)
        }
    }

    @Test("ends carried by the next step: stored before it, and a refused end records no step", arguments: StoreKind.allCases)
    func endsBeforeTheNextStep(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
            let first = try await store.begin(action.id, seq: 1), second = try await store.begin(action.id, seq: 2)
            let third = try await store.beginStep(
                NewStep(actionRunID: action.id, attempt: 1, seq: 3, kind: .primitive, name: "p", argsJSON: "{}", argsDigest: "d3"),
                divergenceJSON: nil,
                finishingFirst: [StepEnd(id: first, status: .succeeded, resultJSON: #"{"a":1}"#, errorJSON: nil),
                                 StepEnd(id: second, status: .failed, resultJSON: nil, errorJSON: #"{"type":"X"}"#)])
            var steps = try await store.steps(actionRunID: action.id)
            #expect(steps.map(\.status) == [.succeeded, .failed, .running] && steps.map(\.id) == [first, second, third])
            #expect(steps[0].resultJSON == #"{"a":1}"# && steps[1].errorJSON == #"{"type":"X"}"# && steps[0].endedAt != nil)
            // The first end refused (the step ended already) throws; the step after the ends is not recorded.
            let refused = await #expect(throws: StateStoreError.self) {
                _ = try await store.beginStep(
                    NewStep(actionRunID: action.id, attempt: 1, seq: 4, kind: .primitive, name: "p", argsJSON: "{}", argsDigest: "d4"),
                    divergenceJSON: nil, finishingFirst: [StepEnd(id: first, status: .failed, resultJSON: nil, errorJSON: nil),
                                                          StepEnd(id: third, status: .succeeded, resultJSON: nil, errorJSON: nil)])
            }
            #expect(refused?.code == .illegalTransition)
            steps = try await store.steps(actionRunID: action.id)
            #expect(steps.map(\.seq) == [1, 2, 3] && steps[0].status == .succeeded && steps[2].status == .running)
            // A refused end after a good one: SQLite and memory end neither (one transaction); PostgreSQL keeps the first.
            await #expect(throws: StateStoreError.self) {
                try await store.finishSteps([StepEnd(id: third, status: .succeeded, resultJSON: "null", errorJSON: nil),
                                             StepEnd(id: second, status: .succeeded, resultJSON: nil, errorJSON: nil)])
            }
            #expect(try await store.steps(actionRunID: action.id).last?.status == (kind == .postgres ? .succeeded : .running))
            // An end given again the same way (its earlier write's outcome unknown to the journal) is skipped.
            try await store.finishSteps([StepEnd(id: first, status: .succeeded, resultJSON: #"{"a":1}"#, errorJSON: nil),
                                         StepEnd(id: third, status: .succeeded, resultJSON: "null", errorJSON: nil)])
            try await store.finishSteps([])
            steps = try await store.steps(actionRunID: action.id)
            #expect(steps.map(\.status) == [.succeeded, .failed, .succeeded] && steps[0].resultJSON == #"{"a":1}"#)
            // finishStep alone stays strict.
            await #expect(throws: StateStoreError.self) {
                try await store.finishStep(id: third, status: .succeeded, resultJSON: nil, errorJSON: nil)
            }
            let unknown = await #expect(throws: StateStoreError.self) {
                try await store.finishSteps([StepEnd(id: 424242, status: .succeeded, resultJSON: nil, errorJSON: nil)])
            }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("log lines are appended in order and paged by id and limit, per run", arguments: StoreKind.allCases)
    func logs(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let run = try await store.makeRun(deployment), other = try await store.makeRun(deployment)
            for index in 1...25 {
                try await store.appendLogs([
                    NewLogLine(runID: run.id, action: index % 2 == 0 ? "upgrade" : nil, attempt: 1, time: time.now,
                               level: .info, logger: "stdout", message: "line \(index)"),
                    NewLogLine(runID: other.id, action: nil, attempt: 1, time: time.now, level: .error, logger: "flowrunner", message: "other \(index)"),
                ])
            }
            let all = try await store.logs(runID: run.id)
            #expect(all.map(\.message) == (1...25).map { "line \($0)" })
            let oddIDs: [RecordID] = (1...25).map { RecordID(2 * $0 - 1) }
            #expect(all.map(\.id) == oddIDs)
            #expect(all[1].action == "upgrade" && all[0].action == nil && all[0].level == .info && all[0].logger == "stdout")
            #expect(all.allSatisfy { $0.time == time.now && $0.runID == run.id && $0.attempt == 1 })

            #expect(try await store.lastLogs(runID: run.id, limit: 3).map(\.message) == ["line 23", "line 24", "line 25"], "the newest, oldest first")
            #expect(try await store.lastLogs(runID: run.id, limit: 100).count == 25)
            #expect(try await store.lastLogs(runID: run.id, limit: 0).isEmpty)
            #expect(try await store.lastLogs(runID: 999, limit: 5).isEmpty)

            var paged: [LogRecord] = []
            var cursor: RecordID = 0
            while true {
                let page = try await store.logs(runID: run.id, afterID: cursor, limit: 7)
                #expect(page.count <= 7)
                guard let last = page.last else { break }
                paged += page
                cursor = last.id
            }
            #expect(paged == all)
            #expect(try await store.logs(runID: run.id, afterID: 0, limit: 0).isEmpty)
            #expect(try await store.logs(runID: run.id, afterID: all[23].id, limit: 10).map(\.message) == ["line 25"])
            #expect(try await store.logs(runID: run.id, afterID: 10_000, limit: 10).isEmpty)
            #expect(try await store.logs(runID: other.id, afterID: all[0].id, limit: 2).map(\.message) == ["other 1", "other 2"])
            #expect(try await store.logs(runID: 99).isEmpty)
        }
    }

    @Test("log lines of a missing run are refused, the whole batch with them", arguments: StoreKind.allCases)
    func logsOfMissingRun(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let lines = [run.id, 99, run.id].map { NewLogLine(runID: $0, action: nil, attempt: 1, level: .info, logger: "x", message: "m") }
            let error = await #expect(throws: StateStoreError.self) { try await store.appendLogs(lines) }
            #expect(error?.code == .database) // SQLite's foreign key
            #expect(try await store.logs(runID: run.id).isEmpty)
            try await store.appendLogs([])
            try await store.appendLogs([lines[0]])
            #expect(try await store.logs(runID: run.id).map(\.id) == [1])
        }
    }

    @Test("prune deletes finished runs that ended before the cut-off, with actions, steps and logs, and nothing else",
          arguments: StoreKind.allCases)
    func prune(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            /// A run with one action, one step and one log line, ended with `status` (or left as it is when nil).
            func run(ending status: RunStatus?) async throws -> (run: RecordID, action: RecordID) {
                let run = try await store.makeRun(deployment)
                let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
                let step = try await store.begin(action.id, seq: 1)
                try await store.finishStep(id: step, status: .succeeded, resultJSON: nil, errorJSON: nil)
                try await store.appendLogs([NewLogLine(runID: run.id, action: nil, attempt: 1, time: time.now, level: .info, logger: "flowrunner", message: "m")])
                if let status {
                    if status != .cancelled { try await store.changeRunStatus(id: run.id, to: .running) }
                    if status != .running { try await store.changeRunStatus(id: run.id, to: status) }
                }
                return (run.id, action.id)
            }
            let failed = try await run(ending: .failed)
            let succeeded = try await run(ending: .succeeded)
            let queued = try await run(ending: nil)
            time.advance(by: 10)
            let atCutOff = try await run(ending: .cancelled)
            let running = try await run(ending: .running)
            time.advance(by: 10)
            let recent = try await run(ending: .failed)

            #expect(try await store.pruneRuns(endedBefore: conformanceEpoch.addingTimeInterval(10)) == 2)
            for gone in [failed, succeeded] {
                #expect(try await store.run(id: gone.run) == nil)
                #expect(try await store.actionRuns(runID: gone.run).isEmpty)
                #expect(try await store.steps(actionRunID: gone.action).isEmpty)
                #expect(try await store.logs(runID: gone.run).isEmpty)
            }
            for kept in [queued, atCutOff, running, recent] {
                #expect(try await store.run(id: kept.run) != nil)
                #expect(try await store.actionRuns(runID: kept.run).count == 1)
                #expect(try await store.steps(actionRunID: kept.action).count == 1)
                #expect(try await store.logs(runID: kept.run).count == 1)
            }
            #expect(try await store.pruneRuns(endedBefore: conformanceEpoch.addingTimeInterval(10)) == 0)
            #expect(try await store.pruneRuns(endedBefore: time.now.addingTimeInterval(1)) == 2) // atCutOff and recent
            #expect(try await store.runs().map(\.id) == [running.run, queued.run])
            if let sqlite = store as? SQLiteStateStore {
                #expect(try sqlite.integrityProblems().isEmpty)
            }
        }
    }

    /// SQLite's row ids (and the in-memory store that copies them); the
    /// PostgreSQL store's ids come from sequences and are never given again
    /// (``PostgresStoreTests/idsAfterPrune()``).
    @Test("ids are the largest in the table plus one, so pruning the newest rows hands their ids out again",
          arguments: StoreKind.allCases.filter { $0 != .postgres })
    func idsAfterPrune(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let kept = try await store.makeRun(deployment)
            let pruned = try await store.makeRun(deployment)
            try await store.planActionRuns(runID: pruned.id, actions: [("upgrade", .core)])
            try await store.appendLogs([NewLogLine(runID: pruned.id, action: nil, attempt: 1, level: .info, logger: "x", message: "m")])
            try await store.changeRunStatus(id: pruned.id, to: .cancelled)
            time.advance(by: 1)
            #expect(try await store.pruneRuns(endedBefore: time.now) == 1)
            let next = try await store.makeRun(deployment)
            #expect([kept.id, pruned.id, next.id] == [1, 2, 2])
            #expect(try await store.planActionRuns(runID: next.id, actions: [("upgrade", .core)]).map(\.id) == [1])
            try await store.appendLogs([NewLogLine(runID: next.id, action: nil, attempt: 1, level: .info, logger: "x", message: "m")])
            #expect(try await store.logs(runID: next.id).map(\.id) == [1])
        }
    }
}
