import FlowModel
import Primitives
import StateStore
import Testing

@Suite("Numbers of seconds from fixtures and actions are range checked, never trapped on")
struct NumberRangeTests {
    @Test("a fixture duration that is infinite or beyond a year is refused, naming the field",
          arguments: [JSONValue.double(.infinity), .double(1e300), .double(-1), .string("soon")])
    func fixtureDuration(_ duration: JSONValue) {
        let fixture: JSONValue = ["commands": [["match": "migrate*", "duration": duration]]]
        do {
            _ = try ClusterFixture.decode(fixture, file: "fixture.yml")
            Issue.record("duration \(duration) was accepted")
        } catch {
            #expect(error.field == "commands[0].duration", "\(error)")
            #expect(error.description.hasPrefix("fixture.yml: "))
        }
    }

    @Test("a plain duration is kept")
    func plainDuration() throws {
        let fixture = try ClusterFixture.decode(["commands": [["match": "m", "duration": 0.5]]], file: "f.yml")
        #expect(fixture.commands.first?.duration == 0.5)
    }
}

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
