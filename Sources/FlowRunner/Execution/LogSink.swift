import ActionHost
import Foundation
import StateStore
import Synchronization

/// Collects an action's log lines and writes them to the state store in
/// batches (every 100 ms, or 500 lines), so a chatty action costs one short
/// transaction per batch instead of one per line.
///
/// A batch the store refuses is kept and written with the next one; lines
/// still unwritten at ``close()`` are reported, never dropped in silence,
/// except once the worker's lease is lost (``LeaseFence``): the attempt
/// writes nothing more, its log lines included.
final class LogSink: Sendable {
    let store: any StateStore
    let runID: RecordID
    let action: String?
    let attempt: Int
    let observer: (any RunObserver)?
    /// The worker's lease on the run (nil: not fenced).
    let lease: LeaseFence?
    private let buffer = Mutex<[NewLogLine]>([])
    private let lastError = Mutex<StateStoreError?>(nil)
    private let flusher = Mutex<Task<Void, Never>?>(nil)
    /// One flush at a time, so batches reach the store in order.
    private let writing = Mutex(false)

    init(store: any StateStore, runID: RecordID, action: String?, attempt: Int, observer: (any RunObserver)?, lease: LeaseFence? = nil) {
        self.store = store
        self.runID = runID
        self.action = action
        self.attempt = attempt
        self.observer = observer
        self.lease = lease
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                await self?.flush()
            }
        }
        flusher.withLock { $0 = task }
    }

    func append(level: String, logger: String, message: String, time: Double) {
        let line = NewLogLine(
            runID: runID, action: action, attempt: attempt, time: Date(timeIntervalSince1970: time),
            level: LogLevel(rawValue: level) ?? .info, logger: logger, message: message
        )
        let full = buffer.withLock { lines -> Bool in
            lines.append(line)
            return lines.count >= 500
        }
        observer?.logged(action: action, level: line.level.rawValue, logger: logger, message: message)
        if full { Task { await self.flush() } }
    }

    /// Writes the buffered lines; on a store failure they go back to the
    /// front of the buffer for the next flush.
    func flush() async {
        let acquired = writing.withLock { busy -> Bool in
            if busy { return false }
            busy = true
            return true
        }
        guard acquired else { return }
        defer { writing.withLock { $0 = false } }
        let lines = buffer.withLock { lines -> [NewLogLine] in
            defer { lines.removeAll(keepingCapacity: true) }
            return lines
        }
        guard !lines.isEmpty else { return }
        // A worker that lost its run (it was paused past its lease) stores none of its lines.
        if let lease, await !lease.holdsOrRenews(runID: runID) { return }
        do {
            try await store.appendLogs(lines)
            lastError.withLock { $0 = nil }
        } catch {
            buffer.withLock { $0.insert(contentsOf: lines, at: 0) }
            lastError.withLock { $0 = error }
        }
    }

    /// Stops the periodic flusher and writes what is left. Returns why lines
    /// could not be stored, or nil when every line was.
    func close() async -> String? {
        let task = flusher.withLock { $0 }
        task?.cancel()
        _ = await task?.value
        // A flush started by a full buffer may still be writing: give it a moment, then try again.
        for _ in 0..<5 {
            await flush()
            if buffer.withLock({ $0.isEmpty }) && !writing.withLock({ $0 }) { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = buffer.withLock { $0.count }
        guard left > 0, lease?.lossReason == nil else { return nil }
        let reason = lastError.withLock { $0 }.map(\.description) ?? "the store did not answer"
        return "\(left) log line\(left == 1 ? "" : "s") could not be stored (\(reason))"
    }
}
