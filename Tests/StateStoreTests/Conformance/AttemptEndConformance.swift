import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: each attempt's end is kept")
struct AttemptEndConformance {
    @Test("a run that fails, fails again with another error and succeeds lists three ends, both errors kept", arguments: StoreKind.allCases)
    func failFailSucceed(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let run = try await store.makeRun(deployment)
            let other = try await store.makeRun(try await store.makeDeployment("other"))
            #expect(try await store.attemptEnds(ofRun: run.id).isEmpty)

            let first = #"{"action":"upgrade","type":"RuntimeError","message":"first"}"#
            let second = #"{"action":"upgrade","type":"ValueError","message":"second"}"#
            _ = try #require(try await store.claim("w1", lease: .seconds(30)))
            time.advance(by: 1)
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: first)
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            _ = try #require(try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(30), runID: run.id))
            time.advance(by: 2)
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: second)
            // The run's own error is cleared by the retry; its ends keep theirs.
            let retried = try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            #expect(retried.errorJSON == nil && retried.attempt == 3)
            _ = try #require(try await store.claimNextRun(owner: .test("w1"), leaseDuration: .seconds(30), runID: run.id))
            time.advance(by: 3)
            try await store.changeRunStatus(id: run.id, to: .succeeded)

            let ends = try await store.attemptEnds(ofRun: run.id)
            #expect(ends == [
                AttemptEnd(attempt: 1, status: .failed, errorJSON: first, endedAt: conformanceEpoch.addingTimeInterval(1)),
                AttemptEnd(attempt: 2, status: .failed, errorJSON: second, endedAt: conformanceEpoch.addingTimeInterval(3)),
                AttemptEnd(attempt: 3, status: .succeeded, errorJSON: nil, endedAt: conformanceEpoch.addingTimeInterval(6)),
            ])
            #expect(try await store.attemptEnds(ofRun: other.id).isEmpty, "another run's ends are not this one's")
            #expect(try await store.attemptEnds(ofRun: 99).isEmpty, "an unknown run has none")
        }
    }

    @Test("a flow's retry and a lease recovery each leave an end with their error; a cancel is an end; run_ends keeps only the cancel; pruning takes a run's ends",
          arguments: StoreKind.allCases)
    func handedOnAndPruned(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let webhook = try await store.registerWebhook(url: "https://example.com/hook")
            let run = try await store.makeRun(try await store.makeDeployment())
            // Attempt 1: its action fails and its worker hands the run back for a flow's retry.
            _ = try #require(try await store.claim("w1", lease: .seconds(30)))
            let retryError = #"{"action":"upgrade","type":"RuntimeError","message":"boom"}"#
            let actionError = #"{"type":"RuntimeError","message":"boom","retries":2,"traceback":"Traceback (most recent call last):\nRuntimeError: boom"}"#
            time.advance(by: 1)
            let retried = try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: .test("w1"),
                                                   handingOn: AttemptFailure(errorJSON: retryError, actionErrorJSON: actionError))
            #expect(retried.attempt == 2 && retried.status == .queued && retried.errorJSON == nil)
            // Attempt 2: the worker dies; its lease expires and the run is recovered.
            let claimed = try #require(try await store.claim("w2", lease: .seconds(5)))
            let lease = try #require(claimed.leaseExpiresAt)
            time.advance(by: 10)
            _ = try #require(try await store.requeue(run.id))
            let recoveryError = AttemptFailure.recoveryErrorJSON(owner: LeaseOwner.test("w2").description, leaseExpiresAt: lease, now: time.now)
            #expect(recoveryError.contains("lease of worker \(LeaseOwner.test("w2").description) expired at"))
            let handedOn = [
                AttemptEnd(attempt: 1, endedBy: .retry, status: .failed, errorJSON: retryError, actionErrorJSON: actionError,
                           endedAt: conformanceEpoch.addingTimeInterval(1)),
                AttemptEnd(attempt: 2, endedBy: .recovery, status: .failed, errorJSON: recoveryError, endedAt: conformanceEpoch.addingTimeInterval(11)),
            ]
            #expect(try await store.attemptEnds(ofRun: run.id) == handedOn)
            // Attempt 3 is cancelled.
            _ = try #require(try await store.claim("w3", lease: .seconds(30)))
            let cancelled = #"{"action":null,"type":"Cancelled","message":"cancelled by the operator"}"#
            try await store.changeRunStatus(id: run.id, to: .cancelled, errorJSON: cancelled)
            #expect(try await store.attemptEnds(ofRun: run.id) == handedOn + [
                AttemptEnd(attempt: 3, status: .cancelled, errorJSON: cancelled, endedAt: conformanceEpoch.addingTimeInterval(11)),
            ])
            // The webhooks' outbox holds the run's end only, as before.
            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10) == 1)
            #expect(try await store.webhookDeliveries(runID: run.id).map(\.runAttempt) == [3])

            time.advance(by: 5)
            #expect(try await store.pruneRuns(endedBefore: time.now) == 1)
            #expect(try await store.attemptEnds(ofRun: run.id).isEmpty)
        }
    }

    @Test("a run's end keeps the failing action's error as it was, traceback included, after the next attempt clears it", arguments: StoreKind.allCases)
    func endKeepsActionError(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            _ = try #require(try await store.claim("w1"))
            let actions = try await store.planActionRuns(runID: run.id, actions: [(name: "backup", mode: .pre), (name: "upgrade", mode: .core)])
            let upgrade = try #require(actions.first { $0.name == "upgrade" })
            let actionError = #"{"type":"ValueError","message":"bad","traceback":"Traceback (most recent call last):\nValueError: bad"}"#
            try await store.changeActionRunStatus(id: upgrade.id, to: .running)
            try await store.changeActionRunStatus(id: upgrade.id, to: .failed, errorJSON: actionError)
            time.advance(by: 1)
            let runError = #"{"action":"upgrade","type":"ValueError","message":"bad"}"#
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: runError)
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            _ = try #require(try await store.claim("w1"))
            try await store.changeActionRunStatus(id: upgrade.id, to: .running)
            time.advance(by: 1)
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: "not JSON")
            #expect(try await store.attemptEnds(ofRun: run.id) == [
                AttemptEnd(attempt: 1, status: .failed, errorJSON: runError, actionErrorJSON: actionError, endedAt: conformanceEpoch.addingTimeInterval(1)),
                AttemptEnd(attempt: 2, status: .failed, errorJSON: "not JSON", endedAt: conformanceEpoch.addingTimeInterval(2)),
            ])
        }
    }
}
