import ActionHost
import FlowModel
import FlowRunner
import Foundation
import StateStore
import Testing

/// Every run that has not finished says why (DESIGN.md, "Runner service").
@Suite("Waiting reasons of runs that have not finished")
struct WaitingReasonTests {
    func reason(_ harness: EngineHarness, _ id: RecordID) async throws -> String? {
        let run = try #require(try await harness.store.run(id: id))
        return try await WaitingReason.load(run, store: harness.store, now: try await harness.store.currentTime()).run
    }

    @Test("queued (unclaimed, behind an earlier run, behind a running one), running, lease expired, cancelling, finished")
    func everyState() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let first = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        #expect(try await reason(harness, first.id) == "no worker has claimed it")
        let second = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.2.0")
        #expect(try await reason(harness, second.id) == "waiting for run \(first.id) of deployment app (queued earlier)")

        let owner = LeaseOwner(role: "serve", processID: 7, host: "elsewhere")
        let claimed = try #require(try await harness.store.claimNextRun(owner: owner, leaseDuration: .seconds(30), runID: first.id))
        let until = try #require(claimed.leaseExpiresAt)
        #expect(try await reason(harness, first.id) == "lease held by \(owner.description) until \(TimeText.rfc3339(until))")
        #expect(try await reason(harness, second.id) == "waiting for run \(first.id) of deployment app (running)")

        harness.time.advance(by: 60)
        let expired = try #require(try await reason(harness, first.id))
        #expect(expired.contains("expired at \(TimeText.rfc3339(until))") && expired.contains("recovery resumes it"), "\(expired)")

        _ = try await harness.store.changeRunStatus(id: first.id, to: .cancelling)
        #expect(try await reason(harness, first.id)?.hasPrefix("cancel requested") == true)
        #expect(try await reason(harness, second.id) == "waiting for run \(first.id) of deployment app (cancelling)")
        _ = try await harness.store.changeRunStatus(id: first.id, to: .cancelled)
        #expect(try await reason(harness, first.id) == nil)
        #expect(try await reason(harness, second.id) == "no worker has claimed it")
    }

    @Test("a delayed automatic retry says which retry of how many, and when")
    func delayedRetry() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { action in
            action.flowOptions(retries: 3, delaySeconds: 600)
            return .failed("RuntimeError", "not yet")
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let scheduler = harness.scheduler()
        let claimed = try #require(try await harness.store.claimNextRun(owner: scheduler.configuration.owner, leaseDuration: .seconds(30), runID: run.id))
        guard case .retryScheduled(let queued, let due?) = try await scheduler.workClaimed(claimed, observer: nil) else {
            Issue.record("expected a delayed retry")
            return
        }
        #expect(queued.status == .queued)
        #expect(try await reason(harness, run.id) == "retry 1 of 3 at \(TimeText.rfc3339(due))")
    }

    @Test("a run queued with not_before and no retry behind it waits for that time")
    func notBefore() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let later = try await harness.store.currentTime().addingTimeInterval(120)
        let queued = RunRecordBuilder.with(try #require(try await harness.store.run(id: run.id))) { $0.notBefore = later }
        let text = try await WaitingReason.load(queued, store: harness.store, now: try await harness.store.currentTime()).run
        #expect(text == "not before \(TimeText.rfc3339(later))")
    }
}

/// A changed copy of a record.
enum RunRecordBuilder {
    static func with(_ run: RunRecord, _ change: (inout RunRecord) -> Void) -> RunRecord {
        var copy = run
        change(&copy)
        return copy
    }
}
