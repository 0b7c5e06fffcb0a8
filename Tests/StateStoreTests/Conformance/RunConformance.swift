import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: runs and their transitions")
struct RunConformance {
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

    @Test("every run transition is allowed or refused exactly as the lifecycle says", arguments: StoreKind.allCases, pairs)
    func runTransition(kind: StoreKind, pair: (RunStatus, RunStatus)) async throws {
        let (from, next) = pair
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            for step in Self.pathTo[from] ?? [] { try await store.changeRunStatus(id: run.id, to: step) }
            let before = try #require(try await store.run(id: run.id))
            #expect(before.status == from)
            if Self.legalRunTransitions.contains("\(from.rawValue)>\(next.rawValue)") {
                let after = try await store.changeRunStatus(id: run.id, to: next, errorJSON: next == .failed ? #"{"message":"x"}"# : nil)
                #expect(after.status == next)
                #expect(try await store.run(id: run.id) == after)
            } else {
                let error = await #expect(throws: StateStoreError.self) { try await store.changeRunStatus(id: run.id, to: next) }
                #expect(error?.code == .illegalTransition)
                #expect(error?.location == store.location)
                #expect(try await store.run(id: run.id) == before) // nothing written
            }
        }
    }

    @Test("a new run is queued, attempt 1, stamped by the store's clock", arguments: StoreKind.allCases)
    func created(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment("shop")
            time.advance(by: 5)
            let new = NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: #"{"a":1}"#, contextJSON: #"{"c":2}"#,
                             driverVersionID: deployment.driverVersionID, idempotencyKey: nil, notBefore: nil)
            let (run, created) = try await store.createRun(new)
            #expect(created)
            let expected = RunRecord(
                id: 1, deploymentID: deployment.id, deployment: "shop", hook: .upgrade, status: .queued, attempt: 1,
                inputsJSON: #"{"a":1}"#, contextJSON: #"{"c":2}"#, driverVersionID: deployment.driverVersionID, idempotencyKey: nil,
                leaseOwner: nil, leaseExpiresAt: nil, notBefore: nil, createdAt: conformanceEpoch.addingTimeInterval(5),
                startedAt: nil, endedAt: nil, errorJSON: nil, replayJSON: nil
            )
            #expect(run == expected)
            #expect(try await store.run(id: 1) == expected)
            #expect(try await store.createRun(new).record.id == 2)
            #expect(try await store.run(id: 3) == nil)
        }
    }

    @Test("status changes keep the bookkeeping: start time, attempts, end time, lease, error", arguments: StoreKind.allCases)
    func bookkeeping(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let run = try await store.makeRun(try await store.makeDeployment())
            #expect(run.status == .queued && run.attempt == 1 && run.startedAt == nil)
            time.advance(by: 1)
            let claimed = try #require(try await store.claim("w1"))
            #expect(claimed.status == .running && claimed.leaseOwner == .test("w1"))
            #expect(claimed.startedAt == conformanceEpoch.addingTimeInterval(1))
            #expect(claimed.leaseExpiresAt == conformanceEpoch.addingTimeInterval(31))
            time.advance(by: 1)
            let failed = try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
            #expect(failed.endedAt == conformanceEpoch.addingTimeInterval(2))
            #expect(failed.leaseOwner == nil && failed.leaseExpiresAt == nil && failed.errorJSON == #"{"message":"boom"}"#)
            let notBefore = time.now.addingTimeInterval(60)
            let retried = try await store.changeRunStatus(id: run.id, to: .queued, errorJSON: nil, notBefore: notBefore)
            #expect(retried.attempt == 2 && retried.endedAt == nil && retried.errorJSON == nil && retried.notBefore == notBefore)
            #expect(retried.startedAt == claimed.startedAt)
            // A run made running by hand keeps its first start and holds no lease.
            time.advance(by: 61)
            let running = try await store.changeRunStatus(id: run.id, to: .running)
            #expect(running.startedAt == claimed.startedAt && running.leaseOwner == nil && running.leaseExpiresAt == nil)
            let succeeded = try await store.changeRunStatus(id: run.id, to: .succeeded, errorJSON: nil)
            #expect(succeeded.endedAt == time.now && succeeded.attempt == 2)
        }
    }

    @Test("an unknown run cannot change status", arguments: StoreKind.allCases)
    func unknownRun(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let error = await #expect(throws: StateStoreError.self) { try await store.changeRunStatus(id: 77, to: .running) }
            #expect(error?.code == .notFound)
            #expect(error?.location == store.location)
        }
    }

    @Test("a run for a missing deployment or driver version is refused and nothing is created", arguments: StoreKind.allCases)
    func missingReferences(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let deployment = try await store.makeDeployment()
            for (deploymentID, driverVersionID) in [(RecordID(42), deployment.driverVersionID), (deployment.id, RecordID(42))] {
                let error = await #expect(throws: StateStoreError.self) {
                    try await store.createRun(NewRun(deploymentID: deploymentID, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}",
                                                     driverVersionID: driverVersionID, idempotencyKey: "k"))
                }
                // SQLite reports its foreign keys as plain database failures, not notFound.
                #expect(error?.code == .database)
            }
            #expect(try await store.runs().isEmpty)
            #expect(try await store.makeRun(deployment).id == 1)
        }
    }

    @Test("an idempotency key already used by the deployment returns the earlier run", arguments: StoreKind.allCases)
    func idempotency(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
            func request(_ deployment: DeploymentRecord, _ key: String?, hook: Hook = .upgrade) -> NewRun {
                NewRun(deploymentID: deployment.id, hook: hook, inputsJSON: "{}", contextJSON: "{}",
                       driverVersionID: deployment.driverVersionID, idempotencyKey: key)
            }
            let first = try await store.createRun(request(a, "k"))
            try await store.changeRunStatus(id: first.record.id, to: .cancelled)
            // The same key returns the run as it is now, whatever else the request says.
            let again = try await store.createRun(request(a, "k", hook: .setup))
            let otherDeployment = try await store.createRun(request(b, "k"))
            let otherKey = try await store.createRun(request(a, "K"))
            let noKey1 = try await store.createRun(request(a, nil)), noKey2 = try await store.createRun(request(a, nil))
            #expect(first.created && !again.created && otherDeployment.created && otherKey.created && noKey1.created && noKey2.created)
            #expect(again.record.id == first.record.id && again.record.status == .cancelled && again.record.hook == .upgrade)
            #expect(try await store.runs().map(\.id) == [5, 4, 3, 2, 1])
        }
    }

    @Test("runs list: newest first, filtered by deployment and status, limited", arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
            var ids: [RecordID] = []
            for index in 0..<10 { ids.append(try await store.makeRun(index % 2 == 0 ? a : b).id) }
            try await store.changeRunStatus(id: ids[0], to: .cancelled)
            try await store.changeRunStatus(id: ids[1], to: .cancelled)
            #expect(ids == Array(1...10))
            #expect(try await store.runs().map(\.id) == ids.reversed())
            #expect(try await store.runs(matching: RunFilter(limit: 3)).map(\.id) == Array(ids.reversed().prefix(3)))
            #expect(try await store.runs(matching: RunFilter(limit: 0)).isEmpty)
            #expect(try await store.runs(matching: RunFilter(limit: -5)).isEmpty)
            #expect(try await store.runs(matching: RunFilter(deployment: "b")).map(\.id) == [10, 8, 6, 4, 2])
            #expect(try await store.runs(matching: RunFilter(deployment: "b")).allSatisfy { $0.deployment == "b" })
            #expect(try await store.runs(matching: RunFilter(status: .cancelled)).map(\.id) == [ids[1], ids[0]])
            #expect(try await store.runs(matching: RunFilter(deployment: "a", status: .cancelled)).map(\.id) == [ids[0]])
            #expect(try await store.runs(matching: RunFilter(deployment: "b", status: .queued, limit: 2)).map(\.id) == [10, 8])
            #expect(try await store.runs(matching: RunFilter(deployment: "nobody")).isEmpty)
        }
    }
}
