import Foundation
@testable import StateStore
import Testing

@Suite("Driver versions and deployments")
struct DriverAndDeploymentTests {
    @Test("identical content is stored once; new content gets the next number")
    func driverVersions() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let files = [StoredDriverFile(path: "driver.styrmin.yml", contents: Array("kind: x".utf8))]
        let first = try await store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
        let again = try await store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
        let second = try await store.storeDriverVersion(driver: "my-app", specVersion: "2", digest: "bbb", files: [])
        let other = try await store.storeDriverVersion(driver: "other", specVersion: "1", digest: "aaa", files: [])
        #expect(first.created && !again.created && second.created && other.created)
        #expect(again.record == first.record)
        #expect([first.record.number, second.record.number, other.record.number] == [Int](arrayLiteral: 1, 2, 1))
        #expect(try await store.driverVersion(driver: "my-app")?.number == 2)
        #expect(try await store.driverVersion(driver: "my-app", number: 1)?.digest == "aaa")
        #expect(try await store.driverFiles(versionID: first.record.id) == files)
        #expect(try await store.driverVersions().count == 3)
    }

    @Test("deployment names are unique; updates change version and pin")
    func deployments() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let deployment = try await store.makeDeployment("shop")
        let error = await #expect(throws: StateStoreError.self) { try await store.makeDeployment("shop") }
        #expect(error?.code == .alreadyExists)
        try await store.updateDeployment(id: deployment.id, appVersion: "0.2.0")
        #expect(try await store.deployment(named: "shop")?.appVersion == "0.2.0")
        #expect(try await store.deployment(named: "shop")?.driverVersionID == deployment.driverVersionID)
        await #expect(throws: StateStoreError.self) { try await store.updateDeployment(id: 9999, appVersion: "1") }
        #expect(try await store.deployments().map(\.name) == ["shop"])
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
    func runTransition(from: RunStatus, to next: RunStatus) async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        for step in Self.pathTo[from] ?? [] { try await store.changeRunStatus(id: run.id, to: step) }
        let before = try #require(try await store.run(id: run.id))
        #expect(before.status == from)
        if Self.legalRunTransitions.contains("\(from.rawValue)>\(next.rawValue)") {
            let after = try await store.changeRunStatus(id: run.id, to: next, errorJSON: next == .failed ? #"{"message":"x"}"# : nil)
            #expect(after.status == next)
        } else {
            let error = await #expect(throws: StateStoreError.self) { try await store.changeRunStatus(id: run.id, to: next) }
            #expect(error?.code == .illegalTransition)
            #expect(try await store.run(id: run.id) == before) // nothing written
        }
    }

    @Test("status changes keep the bookkeeping: start time, attempts, end time, lease")
    func bookkeeping() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        #expect(run.status == .queued && run.attempt == 1 && run.startedAt == nil)
        let claimed = try #require(try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(30)))
        #expect(claimed.status == .running && claimed.leaseOwner == .test("w1") && claimed.startedAt != nil)
        let failed = try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
        #expect(failed.endedAt != nil && failed.leaseOwner == nil && failed.errorJSON == #"{"message":"boom"}"#)
        let retried = try await store.changeRunStatus(id: run.id, to: .queued, notBefore: Date().addingTimeInterval(60))
        #expect(retried.attempt == 2 && retried.endedAt == nil && retried.errorJSON == nil && retried.notBefore != nil)
        #expect(retried.startedAt == claimed.startedAt)
    }

    @Test("action runs: planned in order, attempts counted, succeeded is final")
    func actionRuns() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        let actions = try await store.planActionRuns(runID: run.id, actions: [("drain", .pre), ("upgrade", .core), ("smoke", .post)])
        #expect(actions.map(\.name) == ["drain", "upgrade", "smoke"])
        #expect(actions.map(\.position) == [0, 1, 2])
        #expect(actions.allSatisfy { $0.status == .pending && $0.attempts == 0 })
        // Planning again keeps what exists.
        #expect(try await store.planActionRuns(runID: run.id, actions: [("drain", .pre)]).count == 3)

        let drain = actions[0]
        try await store.changeActionRunStatus(id: drain.id, to: .running)
        let failed = try await store.changeActionRunStatus(id: drain.id, to: .failed, errorJSON: #"{"type":"CommandFailed"}"#)
        #expect(failed.attempts == 1 && failed.errorJSON != nil && failed.endedAt != nil)
        let again = try await store.changeActionRunStatus(id: drain.id, to: .running)
        #expect(again.attempts == 2 && again.errorJSON == nil)
        try await store.changeActionRunStatus(id: drain.id, to: .succeeded)
        for next in ActionRunStatus.allCases {
            let error = await #expect(throws: StateStoreError.self) { try await store.changeActionRunStatus(id: drain.id, to: next) }
            #expect(error?.code == .illegalTransition)
        }
        await #expect(throws: StateStoreError.self) { try await store.changeActionRunStatus(id: actions[1].id, to: .succeeded) } // pending → succeeded
    }

    @Test("steps: recorded before and after, replayed steps final, a finished step cannot change")
    func steps() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
        let step = NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: .primitive, name: "stop_components",
                           argsJSON: #"{"components":["server"]}"#, argsDigest: "d1")
        let id = try await store.beginStep(step)
        #expect(try await store.steps(actionRunID: action.id).first?.status == .running)
        try await store.finishStep(id: id, status: .succeeded, resultJSON: #"{"stopped":["server"]}"#)
        let finished = try #require(try await store.steps(actionRunID: action.id).first)
        #expect(finished.status == .succeeded && finished.resultJSON == #"{"stopped":["server"]}"# && finished.durationMilliseconds != nil)
        for status in StepStatus.allCases {
            let error = await #expect(throws: StateStoreError.self) { try await store.finishStep(id: id, status: status) }
            #expect(error?.code == .illegalTransition)
        }
        var replay = step
        replay.attempt = 2
        try await store.recordReplayedSteps([(replay, finished.resultJSON)])
        let replayedID = try #require(try await store.steps(actionRunID: action.id).last?.id)
        await #expect(throws: StateStoreError.self) { try await store.finishStep(id: replayedID, status: .succeeded) }
        let all = try await store.steps(actionRunID: action.id)
        #expect(all.map(\.attempt) == [1, 2])
        #expect(all[1].replayed && all[1].status == .replayed && all[1].resultJSON == finished.resultJSON)
        // The same (attempt, seq) cannot be recorded twice.
        await #expect(throws: StateStoreError.self) { try await store.beginStep(step) }
        await #expect(throws: StateStoreError.self) { try await store.finishStep(id: 424242, status: .failed) }
    }

    @Test("log lines are appended in order and read incrementally")
    func logs() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        try await store.appendLogs((1...5).map { NewLogLine(runID: run.id, action: "upgrade", attempt: 1, level: .info, logger: "stdout", message: "line \($0)") })
        let first = try await store.logs(runID: run.id, limit: 3)
        #expect(first.map(\.message) == ["line 1", "line 2", "line 3"])
        let rest = try await store.logs(runID: run.id, afterID: first.last?.id ?? 0)
        #expect(rest.map(\.message) == ["line 4", "line 5"])
    }
}

@Suite("Queue, leases, idempotency and retention")
struct QueueTests {
    @Test("the oldest runnable run is claimed; not_before and per-deployment serialisation are respected")
    func claimOrder() async throws {
        let scratch = ScratchDatabase()
        let time = ManualTime()
        let store = try scratch.open(clock: .manual(time))
        let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
        let delayed = try await store.makeRun(a, notBefore: time.now.addingTimeInterval(60))
        let a1 = try await store.makeRun(a)
        let a2 = try await store.makeRun(a)
        let b1 = try await store.makeRun(b)
        let lease = Duration.seconds(30)

        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease)?.id == a1.id)
        // a has a running run: a2 must wait, b1 goes.
        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease)?.id == b1.id)
        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease) == nil)
        try await store.changeRunStatus(id: a1.id, to: .succeeded)
        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease, runID: delayed.id) == nil) // not yet
        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease)?.id == a2.id)
        try await store.changeRunStatus(id: a2.id, to: .succeeded)
        time.advance(by: 61)
        #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: lease)?.id == delayed.id)
    }

    @Test("leases are renewed by their owner only; an expired lease is recovered into the next attempt")
    func leases() async throws {
        let scratch = ScratchDatabase()
        let time = ManualTime()
        let store = try scratch.open(clock: .manual(time))
        let run = try await store.makeRun(try await store.makeDeployment())
        _ = try #require(try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(10)))
        #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(20)))
        #expect(try await !store.renewLease(runID: run.id, owner: .test("w2"), leaseDuration: .seconds(99)))
        time.advance(by: 15)
        #expect(try await store.runsWithExpiredLease().isEmpty)
        #expect(try await store.requeueExpiredRun(id: run.id) == nil)
        time.advance(by: 6)
        #expect(try await store.runsWithExpiredLease().map(\.id) == [run.id])
        let recovered = try #require(try await store.requeueExpiredRun(id: run.id))
        #expect(recovered.status == .queued && recovered.attempt == 2 && recovered.leaseOwner == nil)
        #expect(try await !store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(30)))
        time.advance(by: 1)
        let reclaimed = try #require(try await store.claimNextRun(owner: .test("w2"), leaseDuration: .seconds(10)))
        #expect(reclaimed.id == run.id && reclaimed.attempt == 2 && reclaimed.leaseOwner == .test("w2"))
    }

    @Test("a lease whose owner the caller knows is gone is recovered before it expires")
    func abandonedOwner() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let run = try await store.makeRun(try await store.makeDeployment())
        _ = try #require(try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(600)))
        #expect(try await store.requeueExpiredRun(id: run.id, abandonedOwner: .test("w2")) == nil)
        let recovered = try #require(try await store.requeueExpiredRun(id: run.id, abandonedOwner: .test("w1")))
        #expect(recovered.status == .queued && recovered.attempt == 2)
    }

    @Test("an expired lease on a cancelling run ends it as cancelled")
    func cancellingRecovery() async throws {
        let scratch = ScratchDatabase()
        let time = ManualTime()
        let store = try scratch.open(clock: .manual(time))
        let run = try await store.makeRun(try await store.makeDeployment())
        _ = try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(1))
        try await store.changeRunStatus(id: run.id, to: .cancelling)
        time.advance(by: 5)
        let ended = try #require(try await store.requeueExpiredRun(id: run.id))
        #expect(ended.status == .cancelled && ended.attempt == 1 && ended.endedAt != nil)
    }

    @Test("an idempotency key already used by the deployment returns the earlier run")
    func idempotency() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
        let first = try await store.createRun(NewRun(deploymentID: a.id, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}", driverVersionID: a.driverVersionID, idempotencyKey: "k"))
        let again = try await store.createRun(NewRun(deploymentID: a.id, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}", driverVersionID: a.driverVersionID, idempotencyKey: "k"))
        let otherDeployment = try await store.createRun(NewRun(deploymentID: b.id, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}", driverVersionID: b.driverVersionID, idempotencyKey: "k"))
        #expect(first.created && !again.created && otherDeployment.created)
        #expect(again.record.id == first.record.id)
        #expect(try await store.runs().count == 2)
    }

    @Test("runs list: newest first, filtered by deployment and status, limited")
    func listing() async throws {
        let scratch = ScratchDatabase()
        let store = try scratch.open()
        let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
        var ids: [RecordID] = []
        for index in 0..<10 { ids.append(try await store.makeRun(index % 2 == 0 ? a : b).id) }
        try await store.changeRunStatus(id: ids[0], to: .cancelled)
        #expect(try await store.runs(matching: RunFilter(limit: 3)).map(\.id) == Array(ids.reversed().prefix(3)))
        #expect(try await store.runs(matching: RunFilter(deployment: "b")).count == 5)
        #expect(try await store.runs(matching: RunFilter(deployment: "b")).allSatisfy { $0.deployment == "b" })
        #expect(try await store.runs(matching: RunFilter(status: .cancelled)).map(\.id) == [ids[0]])
        #expect(try await store.runs(matching: RunFilter(deployment: "nobody")).isEmpty)
    }

    @Test("prune deletes finished runs that ended before the cut-off, with steps and logs, and nothing else")
    func prune() async throws {
        let scratch = ScratchDatabase()
        let time = ManualTime(Date().addingTimeInterval(-40 * 86_400))
        let store = try scratch.open(clock: .manual(time))
        let deployment = try await store.makeDeployment()
        let old = time.now
        let oldRun = try await store.makeRun(deployment)
        let action = try await store.planActionRuns(runID: oldRun.id, actions: [("upgrade", .core)])[0]
        let step = try await store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: .task, name: "t", argsJSON: "{}", argsDigest: "x"))
        try await store.finishStep(id: step, status: .succeeded)
        try await store.appendLogs([NewLogLine(runID: oldRun.id, action: nil, attempt: 1, time: old, level: .info, logger: "flowrunner", message: "old")])
        try await store.changeRunStatus(id: oldRun.id, to: .running)
        try await store.changeRunStatus(id: oldRun.id, to: .failed)
        let stillQueued = try await store.makeRun(deployment)
        time.advance(by: 40 * 86_400)
        let recent = try await store.makeRun(deployment)
        try await store.changeRunStatus(id: recent.id, to: .cancelled)

        #expect(try await store.pruneRuns(endedBefore: Date().addingTimeInterval(-30 * 86_400)) == 1)
        #expect(try await store.run(id: oldRun.id) == nil)
        #expect(try await store.steps(actionRunID: action.id).isEmpty)
        #expect(try await store.logs(runID: oldRun.id).isEmpty)
        #expect(try await store.actionRuns(runID: oldRun.id).isEmpty)
        #expect(try await store.run(id: recent.id) != nil)
        #expect(try await store.run(id: stillQueued.id) != nil)
        #expect(try store.integrityProblems().isEmpty)
    }
}
