import FlowModel
import Foundation
import PostgresStateStore
@testable import StateStore
import Testing

/// The store when the server cuts its connections (as a restart or a
/// failover does): calls in flight end, with an error or not, none waits
/// for ever, and calls afterwards work on new connections.
@Suite("PostgreSQL store: connections cut by the server", .enabled(if: PostgresTestServer.isConfigured))
struct PostgresConnectionLossTests {
    @Test("calls in flight when the server terminates every connection end, and the store works afterwards")
    func connectionsCutUnderLoad() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url, maximumConnections: 6)
            let deployment = try await store.makeDeployment()
            let run = try await store.makeRun(deployment)
            let action = try await store.planActionRuns(runID: run.id, actions: [("a", .core)])[0]
            let stop = Locked(false)
            let outcomes = Locked((succeeded: 0, failed: 0, slowest: Duration.zero))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var seq = worker * 100_000
                        while !stop.withLock({ $0 }) {
                            seq += 1
                            let started = ContinuousClock.now
                            do {
                                switch seq % 3 {
                                case 0:
                                    try await store.saveSimulatedClusterState(deployment: "w\(worker)", stateJSON: "{}", upsertJobs: [("j", "{}")], deleteJobs: [])
                                case 1:
                                    let step = NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: .task, name: "t", argsJSON: "{}", argsDigest: "x")
                                    _ = try await store.beginStep(step, divergenceJSON: nil)
                                default:
                                    _ = try await store.runs(matching: RunFilter())
                                }
                                outcomes.withLock { $0.succeeded += 1 }
                            } catch let error as StateStoreError {
                                #expect(error.code == .cannotOpen, "\(error)")
                                outcomes.withLock { $0.failed += 1 }
                                try await Task.sleep(for: .milliseconds(20))
                            }
                            let took = ContinuousClock.now - started
                            outcomes.withLock { $0.slowest = max($0.slowest, took) }
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<5 {
                        try await Task.sleep(for: .milliseconds(300))
                        try await PostgresTestServer.admin("""
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database.name)' AND pid <> pg_backend_pid()
                            """)
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    stop.withLock { $0 = true }
                }
                try await group.waitForAll()
            }
            let result = outcomes.withLock { $0 }
            #expect(result.succeeded > 0 && result.failed > 0, "\(result)")
            #expect(result.slowest < .seconds(30), "a call waited \(result.slowest)")
            // Afterwards every kind of call works again.
            _ = try await store.makeRun(deployment)
            try await store.saveSimulatedClusterState(deployment: "after", stateJSON: "{}", upsertJobs: [], deleteJobs: [])
            #expect(try await store.simulatedClusterState(deployment: "after") == "{}")
            await store.close()
        }
    }
}
