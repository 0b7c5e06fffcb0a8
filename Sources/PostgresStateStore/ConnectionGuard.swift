import Foundation
import PostgresNIO
import Synchronization

/// A statement whose connection closed under it and that had not ended a
/// moment later: the server went away (a restart, a failover, a network cut)
/// while it was in flight, and it may or may not have been applied.
struct ConnectionLost: Error, CustomStringConvertible {
    var description: String {
        "the connection to the server closed while a statement was in flight (the server restarted or the network failed); it may or may not have been applied"
    }
}

extension PostgresConnection {
    /// How often a statement that has not ended checks its connection, and
    /// how long it may still end by itself after the connection closed.
    static let closeCheckInterval: TimeAmount = .milliseconds(500)

    /// Runs `body` (statements on this connection) and returns what it
    /// returns, or throws ``ConnectionLost`` when the connection is found
    /// closed twice in a row (every ``closeCheckInterval``) while `body` has not ended.
    ///
    /// PostgresNIO can leave a statement written to a connection that the
    /// server has just closed waiting for an answer that never comes (its
    /// promise is dropped with the channel's pipeline); without this guard
    /// the caller, and the connection lease it holds, would wait for ever.
    /// The abandoned statement's task stays suspended (a few hundred bytes).
    /// A statement that ends within the first interval costs one scheduled
    /// timer, cancelled at once.
    func guarded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let once = OnceResumer(continuation)
            let closedChecks = Mutex(0)
            let check = self.eventLoop.scheduleRepeatedTask(initialDelay: Self.closeCheckInterval, delay: Self.closeCheckInterval) { task in
                guard self.isClosed else { return }
                guard closedChecks.withLock({ count -> Int in count += 1; return count }) >= 2 else { return }
                task.cancel()
                once.resume(with: .failure(ConnectionLost()))
            }
            once.onResume = { check.cancel() }
            Task {
                do {
                    once.resume(with: .success(try await body()))
                } catch {
                    once.resume(with: .failure(error))
                }
            }
        }
    }
}

/// Resumes a continuation once, whichever of its resumers comes first.
final class OnceResumer<T: Sendable>: Sendable {
    private let state: Mutex<(continuation: CheckedContinuation<T, any Error>?, onResume: (@Sendable () -> Void)?)>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        state = Mutex((continuation, nil))
    }

    /// Called once, when the continuation is resumed (at once if it was already).
    var onResume: (@Sendable () -> Void)? {
        get { state.withLock { $0.onResume } }
        set {
            let resumed = state.withLock { state -> Bool in
                state.onResume = newValue
                return state.continuation == nil
            }
            if resumed { newValue?() }
        }
    }

    /// Resumes with `result` unless resumed already; true when this call resumed it.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        let taken = state.withLock { state -> (CheckedContinuation<T, any Error>, (@Sendable () -> Void)?)? in
            guard let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.onResume)
        }
        guard let (continuation, onResume) = taken else { return false }
        onResume?()
        continuation.resume(with: result)
        return true
    }
}
