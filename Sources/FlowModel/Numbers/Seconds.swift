/// Numbers of seconds that come from outside (CLI options, fixtures,
/// primitive arguments, `@flow` options), checked once where they are read.
///
/// Swift traps when a non-finite or huge `Double` becomes an integer
/// duration, so no outside number reaches `Duration`, `Int64` or
/// `Task.sleep` without passing through here.
public enum Seconds {
    /// The longest time FlowRunner accepts for any timeout, delay or
    /// duration: one year, 31,536,000 s.
    public static let maximum: Double = 31_536_000

    /// Why a number is refused.
    public struct RangeError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The number as given.
        public var value: Double
        /// Whether zero is allowed.
        public var allowsZero: Bool

        /// The error for `value`.
        public init(value: Double, allowsZero: Bool) {
            self.value = value
            self.allowsZero = allowsZero
        }

        /// `expected a finite number of seconds greater than 0 and at most 31536000 (one year), found inf`.
        public var description: String {
            let lower = allowsZero ? "from 0" : "greater than 0 and"
            let found = value.isNaN ? "nan" : value.isInfinite ? (value > 0 ? "inf" : "-inf") : "\(value)"
            return "expected a finite number of seconds \(lower) \(allowsZero ? "to" : "at most") 31536000 (one year), found \(found)"
        }
    }

    /// `seconds` checked: finite, positive (or zero when `allowsZero`), at most ``maximum``.
    ///
    /// - Throws: ``RangeError`` otherwise.
    public static func checked(_ seconds: Double, allowsZero: Bool = false) throws(RangeError) -> Double {
        guard seconds.isFinite, allowsZero ? seconds >= 0 : seconds > 0, seconds <= maximum else {
            throw RangeError(value: seconds, allowsZero: allowsZero)
        }
        return seconds
    }

    /// `seconds` as a duration (millisecond precision), after ``checked(_:allowsZero:)``.
    ///
    /// - Throws: ``RangeError`` for a number out of range.
    public static func duration(_ seconds: Double, allowsZero: Bool = false) throws(RangeError) -> Duration {
        .milliseconds(Int64((try checked(seconds, allowsZero: allowsZero) * 1000).rounded()))
    }

    /// `seconds` forced into 0...``maximum`` (NaN becomes 0), for numbers that
    /// were stored or computed rather than typed by someone to be told.
    public static func clamped(_ seconds: Double) -> Double {
        guard !seconds.isNaN else { return 0 }
        return min(max(seconds, 0), maximum)
    }

    /// ``clamped(_:)`` as a duration.
    public static func clampedDuration(_ seconds: Double) -> Duration {
        .milliseconds(Int64((clamped(seconds) * 1000).rounded()))
    }
}
