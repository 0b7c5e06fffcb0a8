import ActionHost
import FlowModel
import FlowRunner
import Foundation
import Scheduler
import StateStore
import Synchronization
import Testing

/// Automatic retries, cancels and lease recovery, through the Scheduler.
@Suite("Retries, cancel and lease recovery")
struct RecoveryTests {
    @Test("@flow(retries=2): the run gets two more attempts through the retry path; earlier steps replay")
    func automaticRetries() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let bodies = BodyCounter()
        let attempts = Mutex(0)
        harness.runner.script("upgrade") { action in
            action.flowOptions(retries: 2)
            let attempt = attempts.withLock { value in
                value += 1
                return value
            }
            return await .of { () async throws(ActionError) in
                _ = try await action.task("backup") { bodies.ran("backup") }
                if attempt < 3 { throw ActionError(type: "RuntimeError", message: "flaky \(attempt)") }
                _ = try await action.call("get_deployment_version")
            }
        }
        let done = try await harness.upgrade()
        #expect(done.status == .succeeded && done.attempt == 3)
        #expect(bodies["backup"] == 1, "the task that succeeded in attempt 1 replays in 2 and 3")
        #expect(try await harness.attemptSteps(done.id, attempt: 3) == ["backup (replayed)", "get_deployment_version"])
        let action = try #require(try await harness.store.actionRuns(runID: done.id).first { $0.name == "upgrade" })
        #expect(action.attempts == 3)
    }

    @Test("retries run out: the run ends failed after 1 + retries attempts")
    func retriesRunOut() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { action in
            action.flowOptions(retries: 1)
            return .failed("RuntimeError", "always")
        }
        let done = try await harness.upgrade()
        #expect(done.status == .failed && done.attempt == 2)
        #expect(JSONValue(storedText: done.errorJSON)?["message"]?.stringValue == "always")
        // The attempt the flow's retry handed on keeps its error, as the last one does.
        let ends = try await harness.store.attemptEnds(ofRun: done.id)
        #expect(ends.map(\.endedBy) == [.retry, .end] && ends.map(\.attempt) == [1, 2])
        #expect(ends.allSatisfy { JSONValue(storedText: $0.errorJSON)?["action"]?.stringValue == "upgrade" })
        #expect(ends.allSatisfy { JSONValue(storedText: $0.actionErrorJSON)?["message"]?.stringValue == "always" })
    }

    @Test("a cancel requested while the action fails wins over its automatic retry")
    func cancelWinsOverRetry() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let engine = harness.engine
        harness.runner.script("upgrade") { action in
            action.flowOptions(retries: 3)
            let runID = Int64(action.invocation.flowRun["id"]?.stringValue ?? "") ?? 0
            _ = try? await engine.requestCancel(runID: runID)
            return .failed("RuntimeError", "failed while a cancel was on its way")
        }
        let done = try await harness.upgrade()
        #expect(done.status == .cancelled && done.attempt == 1, "no retry after a cancel")
        #expect(harness.runner.startedActions.filter { $0 == "upgrade" }.count == 1)
    }

    @Test("a cancel from another worker stops a running action; its recorded steps stay")
    func cancelRunning() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { action in
            _ = try? await action.call("stop_components", ["components": ["api"]])
            return await action.waitForCancel()
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let worker = Task { try await harness.scheduler().work(runID: run.id) }
        try await waitUntil { try await harness.steps(run.id).contains { $0.name == "stop_components" && $0.status == .succeeded } }
        let cancelling = try await harness.engine.requestCancel(runID: run.id)
        #expect(cancelling.status == .cancelling)
        let done = try await worker.value
        #expect(done.status == .cancelled)
        #expect(try await harness.attemptSteps(run.id, attempt: 1) == ["stop_components"])
    }

    @Test("a worker that dies mid-action leaves a lease; once it expires another worker resumes the run with replay")
    func leaseRecovery() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let dying = ScriptedFailure()
        let bodies = BodyCounter()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.task("snapshot") { bodies.ran("snapshot") }
                _ = try await action.call("stop_components", ["components": ["api"]])
                if dying.isOn {
                    // The first worker's process "dies" here: its task is cancelled from outside.
                    while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
                    throw ActionError(type: "Cancelled", message: "worker gone")
                }
                _ = try await action.call("start_components", ["components": ["api"]])
            }
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let first = LeaseOwner(role: "serve", processID: 4242, host: "runner-a")
        let firstWorker = Task { try await harness.scheduler(first, lease: .seconds(30)).work(runID: run.id) }
        try await waitUntil { try await harness.steps(run.id).contains { $0.name == "stop_components" && $0.status == .succeeded } }
        firstWorker.cancel()
        let left = try await firstWorker.value
        #expect(left.status == .running && left.leaseOwner == first, "a worker that lost its run writes nothing more")

        // Another machine's worker cannot take it while the lease is valid ...
        let second = harness.scheduler(LeaseOwner(role: "serve", processID: 7, host: "runner-b"))
        await #expect(throws: EngineError.self) { try await second.work(runID: run.id) }
        // ... and recovers it once the lease has expired.
        dying.turnOff()
        harness.time.advance(by: 31)
        let recovered = try await second.recoverAbandonedRuns()
        #expect(recovered.map(\.id) == [run.id] && recovered.first?.status == .queued)
        let done = try await second.work(runID: run.id)
        #expect(done.status == .succeeded && done.attempt == 2)
        // The attempt handed on by the recovery says whose lease expired.
        let ends = try await harness.store.attemptEnds(ofRun: run.id)
        #expect(ends.map(\.endedBy) == [.recovery, .end], "\(ends)")
        let lost = JSONValue(storedText: ends.first?.errorJSON)
        #expect(lost?["type"]?.stringValue == "LeaseExpired")
        #expect(lost?["message"]?.stringValue?.hasPrefix("lease of worker \(first) expired at ") == true, "\(lost ?? .null)")
        #expect(try await harness.attemptSteps(run.id, attempt: 2) == ["snapshot (replayed)", "stop_components (replayed)", "start_components"])
        #expect(bodies["snapshot"] == 1)
    }
}

/// Polls `condition` every 5 ms for up to 30 s (generous for a loaded machine).
func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("condition not met within 30 s")
}
