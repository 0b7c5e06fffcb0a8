import FlowModel
import Testing

@Suite("Seconds from outside: checked before they become durations")
struct SecondsTests {
    @Test("refused: not finite, negative, zero unless allowed, beyond a year",
          arguments: [Double.infinity, -.infinity, .nan, -1, 0, Double.greatestFiniteMagnitude, 1e40, 31_536_001])
    func refused(_ value: Double) {
        #expect(throws: Seconds.RangeError.self) { try Seconds.duration(value) }
    }

    @Test("accepted: positive and at most a year; zero where allowed")
    func accepted() throws {
        #expect(try Seconds.duration(1.5) == .milliseconds(1500))
        #expect(try Seconds.duration(31_536_000) == .seconds(31_536_000))
        #expect(try Seconds.duration(0, allowsZero: true) == .zero)
    }

    @Test("the message names the range and what was found")
    func message() {
        let error = Seconds.RangeError(value: .infinity, allowsZero: false)
        #expect(error.description == "expected a finite number of seconds greater than 0 and at most 31536000 (one year), found inf")
    }

    @Test("clamped: stored or computed numbers never trap")
    func clamped() {
        #expect(Seconds.clamped(.nan) == 0)
        #expect(Seconds.clamped(-5) == 0)
        #expect(Seconds.clamped(.infinity) == Seconds.maximum)
        #expect(Seconds.clampedDuration(1e300) == .seconds(31_536_000))
    }
}
