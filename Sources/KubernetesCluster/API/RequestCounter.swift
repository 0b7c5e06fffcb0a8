import Synchronization

/// Counts the API requests a client sends, by method (`bench/` compares
/// them with what kubectl needs for the same operation).
public final class RequestCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    func count(method: String, path: String) {
        counts.withLock { $0[method, default: 0] += 1 }
    }

    /// Requests so far, by method.
    public var byMethod: [String: Int] { counts.withLock { $0 } }
    /// All requests so far.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}
