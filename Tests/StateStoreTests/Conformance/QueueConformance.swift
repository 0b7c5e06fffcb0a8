import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: queue, leases, recovery and retries")
struct QueueConformance {
    @Test("the oldest runnable run is claimed; notBefore and per-deployment serialisation are respected", arguments: StoreKind.allCases)
    func claimOrder(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
            let a1 = try await store.makeRun(a)
            let a2 = try await store.makeRun(a)
            let b1 = try await store.makeRun(b)

            #expect(try await store.claim("w")?.id == a1.id)
            // a has a running run: a2 must wait, b1 goes.
            #expect(try await store.claim("w")?.id == b1.id)
            #expect(try await store.claim("w") == nil)
            try await store.changeRunStatus(id: a1.id, to: .succeeded)
            #expect(try await store.claim("w")?.id == a2.id)
            try await store.changeRunStatus(id: a2.id, to: .succeeded)

            // A delayed run is not claimed before its time.
            let delayed = try await store.makeRun(b, notBefore: time.now.addingTimeInterval(60))
            try await store.changeRunStatus(id: b1.id, to: .succeeded)
            #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: .seconds(30), runID: delayed.id) == nil)
            time.advance(by: 61)
            #expect(try await store.claim("w")?.id == delayed.id)
        }
    }

    @Test("each deployment's runs go first in, first out: a newer run waits for an older queued one, even a delayed one", arguments: StoreKind.allCases)
    func firstInFirstOut(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
            let delayed = try await store.makeRun(a, notBefore: time.now.addingTimeInterval(60))
            let a1 = try await store.makeRun(a)
            let b1 = try await store.makeRun(b)
            #expect(try await store.claimNextRun(owner: .test("w"), leaseDuration: .seconds(30), runID: a1.id) == nil)
            #expect(try await store.claim("w")?.id == b1.id)
            #expect(try await store.claim("w") == nil)
            time.advance(by: 61)
            #expect(try await store.claim("w")?.id == delayed.id)
            try await store.changeRunStatus(id: delayed.id, to: .succeeded)
            #expect(try await store.claim("w")?.id == a1.id)
        }
    }

    @Test("a run that has not started an action can be frozen again; one that has cannot", arguments: StoreKind.allCases)
    func refreeze(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let deployment = try await store.makeDeployment()
            let run = try await store.makeRun(deployment)
            let fresh = try await store.refreezeRun(id: run.id, inputsJSON: #"{"current_version":"0.3.0"}"#, contextJSON: #"{"x":1}"#)
            #expect(fresh.inputsJSON == #"{"current_version":"0.3.0"}"# && fresh.contextJSON == #"{"x":1}"#)
            #expect(try await store.run(id: run.id)?.contextJSON == #"{"x":1}"#)
            try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])
            await #expect(throws: StateStoreError.self) {
                try await store.refreezeRun(id: run.id, inputsJSON: "{}", contextJSON: "{}")
            }
            #expect(try await store.run(id: run.id)?.contextJSON == #"{"x":1}"#)
            do {
                try await store.refreezeRun(id: 999, inputsJSON: "{}", contextJSON: "{}")
                Issue.record("an unknown run was frozen")
            } catch let error as StateStoreError {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test("no run is claimed while another run of its deployment is running or cancelling", arguments: StoreKind.allCases)
    func exclusivePerDeployment(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let deployment = try await store.makeDeployment()
            let first = try await store.makeRun(deployment)
            let second = try await store.makeRun(deployment)
            #expect(try await store.claim("w1")?.id == first.id)
            try await store.changeRunStatus(id: first.id, to: .cancelling)
            #expect(try await store.claim("w2") == nil)
            #expect(try await store.claimNextRun(owner: .test("w2"), leaseDuration: .seconds(30), runID: second.id) == nil)
            #expect(try await store.run(id: second.id)?.status == .queued)
            try await store.changeRunStatus(id: first.id, to: .cancelled)
            let claimed = try #require(try await store.claimNextRun(owner: .test("w2"), leaseDuration: .seconds(30), runID: second.id))
            #expect(claimed.id == second.id && claimed.leaseOwner == .test("w2"))
            // Only queued runs are claimed, also by id.
            #expect(try await store.claimNextRun(owner: .test("w3"), leaseDuration: .seconds(30), runID: first.id) == nil)
            #expect(try await store.claimNextRun(owner: .test("w3"), leaseDuration: .seconds(30), runID: 99) == nil)
        }
    }

    @Test("concurrent claims: every run goes to one worker, one run per deployment at a time", arguments: StoreKind.allCases)
    func concurrentClaims(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            var deployments: [DeploymentRecord] = []
            for index in 0..<4 { deployments.append(try await store.makeDeployment("d\(index)")) }
            for index in 0..<24 { _ = try await store.makeRun(deployments[index % 4]) }
            /// What one worker saw: the runs it claimed, and claims made while
            /// another run of the same deployment was running.
            struct Seen: Sendable { var claimed: [RecordID] = []; var overlaps: [RecordID] = [] }
            let seen = try await withThrowingTaskGroup(of: Seen.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var seen = Seen()
                        while let run = try await store.claim("w\(worker)") {
                            seen.claimed.append(run.id)
                            let running = try await store.runs(matching: RunFilter(deployment: run.deployment, status: .running))
                            if running.map(\.id) != [run.id] { seen.overlaps.append(run.id) }
                            try await store.changeRunStatus(id: run.id, to: .succeeded)
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [Seen]()) { $0.append($1) }
            }
            // Workers stop when nothing is runnable at the moment; finish what they left.
            var rest: [RecordID] = []
            while let run = try await store.claim("last") {
                rest.append(run.id)
                try await store.changeRunStatus(id: run.id, to: .succeeded)
            }
            let all = seen.flatMap(\.claimed) + rest
            #expect(all.count == 24)
            #expect(Set(all) == Set(1...24), "a run was claimed twice or never")
            #expect(seen.flatMap(\.overlaps).isEmpty)
            #expect(try await store.runs(matching: RunFilter(status: .succeeded, limit: 100)).count == 24)
        }
    }

    @Test("notBefore holds a run back until the store's clock reaches it", arguments: StoreKind.allCases)
    func notBefore(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b"), c = try await store.makeDeployment("c")
            let created = try await store.makeRun(a, notBefore: time.now.addingTimeInterval(60))
            #expect(created.notBefore == time.now.addingTimeInterval(60))
            time.advance(by: 59)
            #expect(try await store.claim("w") == nil)
            time.advance(by: 1) // exactly at notBefore
            #expect(try await store.claim("w")?.id == created.id)

            // A requeue and a retry with notBefore wait too.
            let requeued = try await store.makeRun(b)
            _ = try #require(try await store.claim("w"))
            try await store.changeRunStatus(id: requeued.id, to: .queued, errorJSON: nil, notBefore: time.now.addingTimeInterval(30))
            let retried = try await store.makeRun(c)
            try await store.changeRunStatus(id: retried.id, to: .failed)
            try await store.retryRun(id: retried.id, replayJSON: nil, driverVersionID: nil,
                                     notBefore: time.now.addingTimeInterval(45), abandonedOwner: nil)
            #expect(try await store.claim("w") == nil)
            time.advance(by: 30)
            #expect(try await store.claim("w")?.id == requeued.id)
            #expect(try await store.claim("w") == nil)
            time.advance(by: 15)
            let claimed = try #require(try await store.claim("w"))
            #expect(claimed.id == retried.id && claimed.notBefore == conformanceEpoch.addingTimeInterval(105))
        }
    }

    @Test("leases are renewed by their owner only; an expired lease is recovered into the next attempt", arguments: StoreKind.allCases)
    func leases(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            _ = try #require(try await store.claim("w1", lease: .seconds(10)))
            #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(20)))
            #expect(try await store.run(id: run.id)?.leaseExpiresAt == time.now.addingTimeInterval(20))
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w2"), leaseDuration: .seconds(99)))
            time.advance(by: 15)
            #expect(try await store.runsWithExpiredLease().isEmpty)
            #expect(try await store.requeue(run.id) == nil)
            time.advance(by: 6)
            #expect(try await store.runsWithExpiredLease().map(\.id) == [run.id])
            let recovered = try #require(try await store.requeue(run.id))
            #expect(recovered.status == .queued && recovered.attempt == 2 && recovered.leaseOwner == nil && recovered.leaseExpiresAt == nil)
            #expect(try await store.runsWithExpiredLease().isEmpty)
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(30)))
            #expect(try await store.requeue(run.id) == nil) // already recovered
            let reclaimed = try #require(try await store.claim("w2", lease: .seconds(10)))
            #expect(reclaimed.id == run.id && reclaimed.attempt == 2 && reclaimed.leaseOwner == .test("w2"))
        }
    }

    @Test("a lease is renewable while running or cancelling, even late, and not after the run ended", arguments: StoreKind.allCases)
    func renewal(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(10))) // queued
            _ = try #require(try await store.claim("w1", lease: .seconds(10)))
            try await store.changeRunStatus(id: run.id, to: .cancelling)
            time.advance(by: 11) // expired, but nobody recovered it yet
            #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(10)))
            #expect(try await store.runsWithExpiredLease().isEmpty)
            try await store.changeRunStatus(id: run.id, to: .cancelled)
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w1"), leaseDuration: .seconds(10)))
            #expect(try await !store.renewLease(runID: 99, owner: .test("w1"), leaseDuration: .seconds(10)))
        }
    }

    @Test("a renewal names its attempt: once the run was recovered and claimed again, by the same owner too, the old attempt's renewal fails", arguments: StoreKind.allCases)
    func renewalOfAnAttempt(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            let first = try #require(try await store.claim("w1", lease: .seconds(10)))
            #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), attempt: first.attempt, leaseDuration: .seconds(10)))
            time.advance(by: 11)
            _ = try #require(try await store.requeue(run.id))
            let second = try #require(try await store.claim("w1", lease: .seconds(10)))
            #expect(second.attempt == first.attempt + 1)
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w1"), attempt: first.attempt, leaseDuration: .seconds(10)))
            #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), attempt: second.attempt, leaseDuration: .seconds(10)))
            #expect(try await store.renewLease(runID: run.id, owner: .test("w1"), attempt: nil, leaseDuration: .seconds(10)))
            #expect(try await !store.renewLease(runID: run.id, owner: .test("w2"), attempt: second.attempt, leaseDuration: .seconds(10)))
        }
    }

    @Test("expired leases: running and cancelling runs past their lease, by id", arguments: StoreKind.allCases)
    func expiredLeases(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            var runs: [RunRecord] = []
            for name in ["a", "b", "c", "d"] { runs.append(try await store.makeRun(try await store.makeDeployment(name))) }
            _ = try await store.claim("w", lease: .seconds(10)) // a
            _ = try await store.claim("w", lease: .seconds(10)) // b, then cancelling
            try await store.changeRunStatus(id: runs[1].id, to: .cancelling)
            _ = try await store.claim("w", lease: .seconds(100)) // c, still valid later
            _ = try await store.changeRunStatus(id: runs[3].id, to: .running) // d, running without a lease
            time.advance(by: 10)
            #expect(try await store.runsWithExpiredLease().isEmpty) // expiring exactly now is not expired
            time.advance(by: 1)
            #expect(try await store.runsWithExpiredLease().map(\.id) == [runs[0].id, runs[1].id])
            // A run without a lease never shows as expired nor is requeued as such.
            #expect(try await store.requeue(runs[3].id) == nil)
        }
    }

    @Test("a lease whose owner the caller knows is gone is recovered before it expires", arguments: StoreKind.allCases)
    func abandonedOwner(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            _ = try #require(try await store.claim("w1", lease: .seconds(600)))
            #expect(try await store.requeueExpiredRun(id: run.id, abandonedOwner: .test("w2")) == nil)
            let recovered = try #require(try await store.requeueExpiredRun(id: run.id, abandonedOwner: .test("w1")))
            #expect(recovered.status == .queued && recovered.attempt == 2)
        }
    }

    @Test("recovering a cancelling run ends it cancelled: same attempt, end time, actions released", arguments: StoreKind.allCases)
    func cancellingRecovery(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            let actions = try await store.planActionRuns(runID: run.id, actions: [("prepare", .pre), ("upgrade", .core)])
            _ = try #require(try await store.claim("w1", lease: .seconds(5)))
            try await store.changeActionRunStatus(id: actions[0].id, to: .running)
            try await store.changeActionRunStatus(id: actions[0].id, to: .succeeded)
            try await store.changeActionRunStatus(id: actions[1].id, to: .running)
            try await store.changeRunStatus(id: run.id, to: .cancelling)
            time.advance(by: 5)
            #expect(try await store.requeue(run.id) == nil) // lease still valid
            time.advance(by: 1)
            let ended = try #require(try await store.requeue(run.id))
            #expect(ended.status == .cancelled && ended.attempt == 1 && ended.endedAt == time.now && ended.leaseOwner == nil)
            #expect(try await store.actionRuns(runID: run.id).map(\.status) == [.succeeded, .pending])
            #expect(try await store.requeue(run.id) == nil)
            #expect(try await store.claim("w2") == nil) // cancelled, not queued

            // A cancelling run whose owner is known to be gone ends the same way at once.
            let other = try await store.makeRun(try await store.makeDeployment("other"))
            _ = try #require(try await store.claim("w3", lease: .seconds(600)))
            try await store.changeRunStatus(id: other.id, to: .cancelling)
            let abandoned = try #require(try await store.requeueExpiredRun(id: other.id, abandonedOwner: .test("w3")))
            #expect(abandoned.status == .cancelled && abandoned.attempt == 1)
        }
    }

    @Test("only a running or cancelling run is requeued", arguments: StoreKind.allCases)
    func requeueOnlyActive(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let queued = try await store.makeRun(deployment)
            let failed = try await store.makeRun(deployment)
            try await store.changeRunStatus(id: failed.id, to: .failed)
            time.advance(by: 1000)
            for id in [queued.id, failed.id, 99] {
                #expect(try await store.requeueExpiredRun(id: id, abandonedOwner: .test("w")) == nil)
            }
            #expect(try await store.run(id: queued.id) == queued)
        }
    }

    @Test("retry: failed, cancelled and abandoned runs start their next attempt; others are refused", arguments: StoreKind.allCases)
    func retry(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let newer = try await store.storeDriverVersion(driver: "drv", specVersion: "2", digest: "digest-2", files: []).record
            let run = try await store.makeRun(deployment)
            let actions = try await store.planActionRuns(runID: run.id, actions: [("prepare", .pre), ("upgrade", .core)])
            func retry(_ owner: LeaseOwner? = nil) async throws -> RunRecord {
                try await store.retryRun(id: run.id, replayJSON: #"{"from_step":2}"#, driverVersionID: nil, notBefore: nil, abandonedOwner: owner)
            }
            func refusal(_ owner: LeaseOwner? = nil) async -> StateStoreError.Code? {
                let error = await #expect(throws: StateStoreError.self) { try await retry(owner) }
                return error?.code
            }
            #expect(await refusal() == .illegalTransition) // queued

            // Running with a valid lease: only naming its owner as gone retries it.
            _ = try #require(try await store.claim("w1", lease: .seconds(60)))
            try await store.changeActionRunStatus(id: actions[0].id, to: .running)
            #expect(await refusal() == .illegalTransition)
            #expect(await refusal(.test("w2")) == .illegalTransition)
            let abandoned = try await retry(.test("w1"))
            #expect(abandoned.status == .queued && abandoned.attempt == 2 && abandoned.replayJSON == #"{"from_step":2}"#)
            #expect(abandoned.leaseOwner == nil && abandoned.leaseExpiresAt == nil)
            #expect(try await store.actionRuns(runID: run.id).map(\.status) == [.pending, .pending])

            // Running with an expired lease: retried without naming an owner.
            _ = try #require(try await store.claim("w1", lease: .seconds(60)))
            time.advance(by: 61)
            #expect(try await retry().attempt == 3)

            // Failed: retried onto another driver version; the error is cleared.
            _ = try #require(try await store.claim("w1"))
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
            let moved = try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: newer.id, notBefore: nil, abandonedOwner: nil)
            #expect(moved.attempt == 4 && moved.driverVersionID == newer.id && moved.errorJSON == nil && moved.endedAt == nil && moved.replayJSON == nil)

            // Cancelled: retried.
            try await store.changeRunStatus(id: run.id, to: .cancelled)
            #expect(try await retry().attempt == 5)

            // Succeeded: final.
            _ = try #require(try await store.claim("w1"))
            try await store.changeRunStatus(id: run.id, to: .succeeded)
            let before = try await store.run(id: run.id)
            #expect(await refusal(.test("w1")) == .illegalTransition)
            #expect(try await store.run(id: run.id) == before)

            let unknown = await #expect(throws: StateStoreError.self) {
                try await store.retryRun(id: 99, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("retry onto a missing driver version is refused and changes nothing", arguments: StoreKind.allCases)
    func retryMissingDriverVersion(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let failed = try await store.changeRunStatus(id: run.id, to: .failed)
            let error = await #expect(throws: StateStoreError.self) {
                try await store.retryRun(id: run.id, replayJSON: "{}", driverVersionID: 42, notBefore: nil, abandonedOwner: nil)
            }
            #expect(error?.code == .database) // SQLite's foreign key
            #expect(try await store.run(id: run.id) == failed)
        }
    }

    @Test("a recovered attempt starts with the default replay; a requeue by status keeps the policy", arguments: StoreKind.allCases)
    func replayPolicyOnRecovery(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            try await store.changeRunStatus(id: run.id, to: .failed)
            try await store.retryRun(id: run.id, replayJSON: #"{"restart":true}"#, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            _ = try #require(try await store.claim("w1", lease: .seconds(1)))
            #expect(try await store.changeRunStatus(id: run.id, to: .queued).replayJSON == #"{"restart":true}"#)
            _ = try #require(try await store.claim("w1", lease: .seconds(1)))
            time.advance(by: 2)
            let recovered = try #require(try await store.requeue(run.id))
            #expect(recovered.replayJSON == nil && recovered.attempt == 4)
        }
    }
}
