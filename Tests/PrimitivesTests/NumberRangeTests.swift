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
