import Foundation
@testable import Primitives
import Testing

/// A storage whose saves take a while, so concurrent calls interleave at
/// every `await` of the cluster actor (as two `asyncio.gather` branches do).
final class SlowClusterStorage: SimulatedClusterStorage, @unchecked Sendable {
    let inner = InMemoryClusterStorage()

    func load() async throws -> SimulatedClusterState? { try inner.load() }

    func save(_ state: SimulatedClusterState, changedJobs: [SimulatedClusterState.Job], removedJobs: [String]) async throws {
        try await Task.sleep(for: .milliseconds(5))
        try inner.save(state, changedJobs: changedJobs, removedJobs: removedJobs)
    }
}

@Suite("Simulated cluster: concurrent calls")
struct SimulatedConcurrencyTests {
    @Test("jobs started and finished concurrently are all kept: no update saves over another's change")
    func concurrentJobs() async throws {
        let storage = SlowClusterStorage()
        let cluster = SimulatedCluster(storage: storage)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    let name = "job-\(index)"
                    _ = try await cluster.startJob(JobSpec(name: name, image: "img", commands: ["echo \(index)"], environment: [:], labels: [:]))
                    _ = try await cluster.waitForJob(named: name, timeout: .seconds(30), output: nil)
                }
            }
            try await group.waitForAll()
        }
        let saved = try #require(try storage.inner.load())
        #expect(Set(saved.jobs.map(\.name)) == Set((0..<20).map { "job-\($0)" }), "\(saved.jobs.map(\.name))")
        #expect(saved.jobs.allSatisfy { $0.finished })
    }
}
