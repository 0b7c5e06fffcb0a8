import Foundation
@testable import StateStore
import Testing

@Suite("Driver versions and deployments")
struct DriverAndDeploymentTests {
    @Test("identical content is stored once; new content gets the next number")
    func driverVersions() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let files = [StoredDriverFile(path: "driver.styrmin.yml", contents: Array("kind: x".utf8))]
        let first = try store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
        let again = try store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
        let second = try store.storeDriverVersion(driver: "my-app", specVersion: "2", digest: "bbb", files: [])
        let other = try store.storeDriverVersion(driver: "other", specVersion: "1", digest: "aaa", files: [])
        #expect(first.created && !again.created && second.created && other.created)
        #expect(again.record == first.record)
        #expect([first.record.number, second.record.number, other.record.number] == [Int](arrayLiteral: 1, 2, 1))
        #expect(try store.driverVersion(driver: "my-app")?.number == 2)
        #expect(try store.driverVersion(driver: "my-app", number: 1)?.digest == "aaa")
        #expect(try store.driverFiles(versionID: first.record.id) == files)
        #expect(try store.driverVersions().count == 3)
    }

    @Test("deployment names are unique; updates change version and pin")
    func deployments() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let deployment = try store.makeDeployment("shop")
        let error = #expect(throws: StateStoreError.self) { try store.makeDeployment("shop") }
        #expect(error?.code == .alreadyExists)
        try store.updateDeployment(id: deployment.id, appVersion: "0.2.0")
        #expect(try store.deployment(named: "shop")?.appVersion == "0.2.0")
        #expect(try store.deployment(named: "shop")?.driverVersionID == deployment.driverVersionID)
        #expect(throws: StateStoreError.self) { try store.updateDeployment(id: 9999, appVersion: "1") }
        #expect(try store.deployments().map(\.name) == ["shop"])
    }
}

@Suite("Run, action and step transitions")
struct TransitionTests {
    /// The legal run transitions, written out independently of RunStatus.allowedNext.
    static let legalRunTransitions: Set<String> = [
        "queued>running", "queued>cancelled", "queued>failed",
        "running>succeeded", "running>failed", "running>cancelling", "running>cancelled", "running>queued",
        "cancelling>cancelled", "cancelling>failed", "cancelling>succeeded", "cancelling>queued",
        "failed>queued", "cancelled>queued",
    ]

    /// A legal path from a new (queued) run to each status.
    static let pathTo: [RunStatus: [RunStatus]] = [
        .queued: [], .running: [.running], .cancelling: [.running, .cancelling],
        .succeeded: [.running, .succeeded], .failed: [.running, .failed], .cancelled: [.cancelled],
    ]

    static let pairs: [(RunStatus, RunStatus)] = RunStatus.allCases.flatMap { from in RunStatus.allCases.map { (from, $0) } }

    @Test("every run transition is allowed or refused exactly as the lifecycle says", arguments: pairs)
    func runTransition(from: RunStatus, to next: RunStatus) throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        for step in Self.pathTo[from] ?? [] { try store.changeRunStatus(id: run.id, to: step) }
        let before = try #require(try store.run(id: run.id))
        #expect(before.status == from)
        if Self.legalRunTransitions.contains("\(from.rawValue)>\(next.rawValue)") {
            let after = try store.changeRunStatus(id: run.id, to: next, errorJSON: next == .failed ? #"{"message":"x"}"# : nil)
            #expect(after.status == next)
        } else {
            let error = #expect(throws: StateStoreError.self) { try store.changeRunStatus(id: run.id, to: next) }
            #expect(error?.code == .illegalTransition)
            #expect(try store.run(id: run.id) == before) // nothing written
        }
    }

    @Test("status changes keep the bookkeeping: start time, attempts, end time, lease")
    func bookkeeping() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        #expect(run.status == .queued && run.attempt == 1 && run.startedAt == nil)
        let claimed = try #require(try store.claimNextRun(owner: "w1", leaseDuration: 30))
        #expect(claimed.status == .running && claimed.leaseOwner == "w1" && claimed.startedAt != nil)
        let failed = try store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
        #expect(failed.endedAt != nil && failed.leaseOwner == nil && failed.errorJSON == #"{"message":"boom"}"#)
        let retried = try store.changeRunStatus(id: run.id, to: .queued, notBefore: Date().addingTimeInterval(60))
        #expect(retried.attempt == 2 && retried.endedAt == nil && retried.errorJSON == nil && retried.notBefore != nil)
        #expect(retried.startedAt == claimed.startedAt)
    }

    @Test("action runs: planned in order, attempts counted, succeeded is final")
    func actionRuns() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        let actions = try store.planActionRuns(runID: run.id, actions: [("drain", "pre"), ("upgrade", "core"), ("smoke", "post")])
        #expect(actions.map(\.name) == ["drain", "upgrade", "smoke"])
        #expect(actions.map(\.position) == [0, 1, 2])
        #expect(actions.allSatisfy { $0.status == .pending && $0.attempts == 0 })
        // Planning again keeps what exists.
        #expect(try store.planActionRuns(runID: run.id, actions: [("drain", "pre")]).count == 3)

        let drain = actions[0]
        try store.changeActionRunStatus(id: drain.id, to: .running)
        let failed = try store.changeActionRunStatus(id: drain.id, to: .failed, errorJSON: #"{"type":"CommandFailed"}"#)
        #expect(failed.attempts == 1 && failed.errorJSON != nil && failed.endedAt != nil)
        let again = try store.changeActionRunStatus(id: drain.id, to: .running)
        #expect(again.attempts == 2 && again.errorJSON == nil)
        try store.changeActionRunStatus(id: drain.id, to: .succeeded)
        for next in ActionRunStatus.allCases {
            let error = #expect(throws: StateStoreError.self) { try store.changeActionRunStatus(id: drain.id, to: next) }
            #expect(error?.code == .illegalTransition)
        }
        #expect(throws: StateStoreError.self) { try store.changeActionRunStatus(id: actions[1].id, to: .succeeded) } // pending → succeeded
    }

    @Test("steps: recorded before and after, replayed steps final, a finished step cannot change")
    func steps() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        let action = try store.planActionRuns(runID: run.id, actions: [("upgrade", "core")])[0]
        let step = NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: "primitive", name: "stop_components",
                           argsJSON: #"{"components":["server"]}"#, argsDigest: "d1")
        let id = try store.beginStep(step)
        #expect(try store.steps(actionRunID: action.id).first?.status == .running)
        try store.finishStep(id: id, status: .succeeded, resultJSON: #"{"stopped":["server"]}"#)
        let finished = try #require(try store.steps(actionRunID: action.id).first)
        #expect(finished.status == .succeeded && finished.resultJSON == #"{"stopped":["server"]}"# && finished.durationMilliseconds != nil)
        for status in StepStatus.allCases {
            let error = #expect(throws: StateStoreError.self) { try store.finishStep(id: id, status: status) }
            #expect(error?.code == .illegalTransition)
        }
        var replay = step
        replay.attempt = 2
        let replayedID = try store.recordReplayedStep(replay, resultJSON: finished.resultJSON)
        #expect(throws: StateStoreError.self) { try store.finishStep(id: replayedID, status: .succeeded) }
        let all = try store.steps(actionRunID: action.id)
        #expect(all.map(\.attempt) == [1, 2])
        #expect(all[1].replayed && all[1].status == .replayed && all[1].resultJSON == finished.resultJSON)
        // The same (attempt, seq) cannot be recorded twice.
        #expect(throws: StateStoreError.self) { try store.beginStep(step) }
        #expect(throws: StateStoreError.self) { try store.finishStep(id: 424242, status: .failed) }
    }

    @Test("log lines are appended in order and read incrementally")
    func logs() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        try store.appendLogs((1...5).map { NewLogLine(runID: run.id, action: "upgrade", attempt: 1, level: .info, logger: "stdout", message: "line \($0)") })
        let first = try store.logs(runID: run.id, limit: 3)
        #expect(first.map(\.message) == ["line 1", "line 2", "line 3"])
        let rest = try store.logs(runID: run.id, afterID: first.last?.id ?? 0)
        #expect(rest.map(\.message) == ["line 4", "line 5"])
    }
}

@Suite("Queue, leases, idempotency and retention")
struct QueueTests {
    @Test("the oldest runnable run is claimed; not_before and per-deployment serialisation are respected")
    func claimOrder() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let a = try store.makeDeployment("a"), b = try store.makeDeployment("b")
        let now = Date()
        let delayed = try store.makeRun(a, notBefore: now.addingTimeInterval(60), now: now)
        let a1 = try store.makeRun(a, now: now)
        let a2 = try store.makeRun(a, now: now)
        let b1 = try store.makeRun(b, now: now)

        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, now: now)?.id == a1.id)
        // a has a running run: a2 must wait, b1 goes.
        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, now: now)?.id == b1.id)
        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, now: now) == nil)
        try store.changeRunStatus(id: a1.id, to: .succeeded)
        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, runID: delayed.id, now: now) == nil) // not yet
        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, now: now)?.id == a2.id)
        try store.changeRunStatus(id: a2.id, to: .succeeded)
        #expect(try store.claimNextRun(owner: "w", leaseDuration: 30, now: now.addingTimeInterval(61))?.id == delayed.id)
    }

    @Test("leases are renewed by their owner only; an expired lease is recovered into the next attempt")
    func leases() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        let now = Date()
        _ = try #require(try store.claimNextRun(owner: "w1", leaseDuration: 10, now: now))
        #expect(try store.renewLease(runID: run.id, owner: "w1", until: now.addingTimeInterval(20)))
        #expect(try !store.renewLease(runID: run.id, owner: "w2", until: now.addingTimeInterval(99)))
        #expect(try store.runsWithExpiredLease(now: now.addingTimeInterval(15)).isEmpty)
        #expect(try store.requeueExpiredRun(id: run.id, now: now.addingTimeInterval(15)) == nil)
        #expect(try store.runsWithExpiredLease(now: now.addingTimeInterval(21)).map(\.id) == [run.id])
        let recovered = try #require(try store.requeueExpiredRun(id: run.id, now: now.addingTimeInterval(21)))
        #expect(recovered.status == .queued && recovered.attempt == 2 && recovered.leaseOwner == nil)
        #expect(try !store.renewLease(runID: run.id, owner: "w1", until: now.addingTimeInterval(30)))
        let reclaimed = try #require(try store.claimNextRun(owner: "w2", leaseDuration: 10, now: now.addingTimeInterval(22)))
        #expect(reclaimed.id == run.id && reclaimed.attempt == 2 && reclaimed.leaseOwner == "w2")
    }

    @Test("an expired lease on a cancelling run ends it as cancelled")
    func cancellingRecovery() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try store.makeRun(try store.makeDeployment())
        let now = Date()
        _ = try store.claimNextRun(owner: "w1", leaseDuration: 1, now: now)
        try store.changeRunStatus(id: run.id, to: .cancelling)
        let ended = try #require(try store.requeueExpiredRun(id: run.id, now: now.addingTimeInterval(5)))
        #expect(ended.status == .cancelled && ended.attempt == 1 && ended.endedAt != nil)
    }

    @Test("an idempotency key already used by the deployment returns the earlier run")
    func idempotency() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let a = try store.makeDeployment("a"), b = try store.makeDeployment("b")
        let first = try store.createRun(NewRun(deploymentID: a.id, hook: "upgrade", inputsJSON: "{}", contextJSON: "{}", driverVersionID: a.driverVersionID, idempotencyKey: "k"))
        let again = try store.createRun(NewRun(deploymentID: a.id, hook: "upgrade", inputsJSON: "{}", contextJSON: "{}", driverVersionID: a.driverVersionID, idempotencyKey: "k"))
        let otherDeployment = try store.createRun(NewRun(deploymentID: b.id, hook: "upgrade", inputsJSON: "{}", contextJSON: "{}", driverVersionID: b.driverVersionID, idempotencyKey: "k"))
        #expect(first.created && !again.created && otherDeployment.created)
        #expect(again.record.id == first.record.id)
        #expect(try store.runs().count == 2)
    }

    @Test("runs list: newest first, filtered by deployment and status, limited")
    func listing() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let a = try store.makeDeployment("a"), b = try store.makeDeployment("b")
        var ids: [RecordID] = []
        for index in 0..<10 { ids.append(try store.makeRun(index % 2 == 0 ? a : b).id) }
        try store.changeRunStatus(id: ids[0], to: .cancelled)
        #expect(try store.runs(matching: RunFilter(limit: 3)).map(\.id) == Array(ids.reversed().prefix(3)))
        #expect(try store.runs(matching: RunFilter(deployment: "b")).count == 5)
        #expect(try store.runs(matching: RunFilter(deployment: "b")).allSatisfy { $0.deployment == "b" })
        #expect(try store.runs(matching: RunFilter(status: .cancelled)).map(\.id) == [ids[0]])
        #expect(try store.runs(matching: RunFilter(deployment: "nobody")).isEmpty)
    }

    @Test("prune deletes finished runs that ended before the cut-off, with steps and logs, and nothing else")
    func prune() throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let deployment = try store.makeDeployment()
        let old = Date().addingTimeInterval(-40 * 86_400)
        let oldRun = try store.makeRun(deployment, now: old)
        let action = try store.planActionRuns(runID: oldRun.id, actions: [("upgrade", "core")])[0]
        let step = try store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: "task", name: "t", argsJSON: "{}", argsDigest: "x"), now: old)
        try store.finishStep(id: step, status: .succeeded, now: old)
        try store.appendLogs([NewLogLine(runID: oldRun.id, action: nil, attempt: 1, time: old, level: .info, logger: "flowrunner", message: "old")])
        try store.changeRunStatus(id: oldRun.id, to: .running, now: old)
        try store.changeRunStatus(id: oldRun.id, to: .failed, now: old)
        let recent = try store.makeRun(deployment)
        try store.changeRunStatus(id: recent.id, to: .cancelled)
        let stillQueued = try store.makeRun(deployment, now: old)

        #expect(try store.pruneRuns(endedBefore: Date().addingTimeInterval(-30 * 86_400)) == 1)
        #expect(try store.run(id: oldRun.id) == nil)
        #expect(try store.steps(actionRunID: action.id).isEmpty)
        #expect(try store.logs(runID: oldRun.id).isEmpty)
        #expect(try store.actionRuns(runID: oldRun.id).isEmpty)
        #expect(try store.run(id: recent.id) != nil)
        #expect(try store.run(id: stillQueued.id) != nil)
        #expect(try store.integrityProblems().isEmpty)
    }
}
