public import Foundation
import Synchronization

/// Where a store reads the time it stamps records and judges leases by.
/// ``system`` in production; tests use ``manual(_:)`` to move time by hand.
public struct StoreClock: Sendable {
    private let read: @Sendable () -> Date

    /// A clock reading `read()` each time.
    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    /// The current time.
    public var now: Date { read() }

    /// The machine's wall clock.
    public static let system = StoreClock { Date() }

    /// A clock that stands still at `start` until ``ManualTime/advance(by:)`` moves it.
    public static func manual(_ time: ManualTime) -> StoreClock {
        StoreClock { time.now }
    }
}

/// A settable time for ``StoreClock/manual(_:)``.
public final class ManualTime: Sendable {
    private let value: Mutex<Date>

    /// Starts at `start`.
    public init(_ start: Date = Date()) {
        value = Mutex(start)
    }

    /// The time now.
    public var now: Date { value.withLock { $0 } }

    /// Moves the time forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        value.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    public var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
