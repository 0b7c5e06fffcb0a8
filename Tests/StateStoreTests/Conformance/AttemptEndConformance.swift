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

    @Test("an attempt a flow's retry or a lease recovery hands on has no end; a cancel is an end; pruning takes a run's ends", arguments: StoreKind.allCases)
    func handedOnAndPruned(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            // Attempt 1: its worker hands the run back for a flow's retry.
            _ = try #require(try await store.claim("w1", lease: .seconds(30)))
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: .test("w1"))
            // Attempt 2: the worker dies; its lease expires and the run is recovered.
            _ = try #require(try await store.claim("w2", lease: .seconds(5)))
            time.advance(by: 10)
            _ = try #require(try await store.requeue(run.id))
            #expect(try await store.attemptEnds(ofRun: run.id).isEmpty)
            // Attempt 3 is cancelled.
            _ = try #require(try await store.claim("w3", lease: .seconds(30)))
            let cancelled = #"{"action":null,"type":"Cancelled","message":"cancelled by the operator"}"#
            try await store.changeRunStatus(id: run.id, to: .cancelled, errorJSON: cancelled)
            #expect(try await store.attemptEnds(ofRun: run.id) == [
                AttemptEnd(attempt: 3, status: .cancelled, errorJSON: cancelled, endedAt: conformanceEpoch.addingTimeInterval(10)),
            ])

            time.advance(by: 5)
            #expect(try await store.pruneRuns(endedBefore: time.now) == 1)
            #expect(try await store.attemptEnds(ofRun: run.id).isEmpty)
        }
    }
}
