import FlowModel
import Primitives
import StateStore
import Testing

@Suite("Fixtures are checked against the driver before any run")
struct FixtureCheckTests {
    @Test("a fixture configuring a component the driver lacks is refused, naming it and the driver's components")
    func unknownComponent() async throws {
        var fixture = try ClusterFixture.decode(["components": ["servr": ["replicas": 2]]], file: "f.yml")
        fixture.file = "f.yml"
        let provider = SimulatedClusterProvider(store: InMemoryStateStore(), fixture: fixture)
        do {
            try await provider.check(cluster: "simulated", against: testSpec)
            Issue.record("an unknown component was accepted")
        } catch {
            #expect(error.message.contains("f.yml: `components.servr`"), "\(error.message)")
            #expect(error.message.contains("database, server, worker"))
        }
        let fitting = SimulatedClusterProvider(store: InMemoryStateStore(), fixture: try ClusterFixture.decode(["components": ["server": ["replicas": 2]]], file: "f.yml"))
        try await fitting.check(cluster: "simulated", against: testSpec)
    }
}
