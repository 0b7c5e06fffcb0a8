import ActionHost
import Foundation
import StateStore
import Synchronization

/// Collects an action's log lines and writes them to the state store in
/// batches (every 100 ms, or 500 lines), so a chatty action costs one short
/// transaction per batch instead of one per line.
final class LogSink: Sendable {
    let store: StateStore
    let runID: RecordID
    let action: String?
    let attempt: Int
    private let buffer = Mutex<[NewLogLine]>([])
    private let flusher = Mutex<Task<Void, Never>?>(nil)
    private let closed = Mutex(false)
    let observer: (any RunObserver)?

    init(store: StateStore, runID: RecordID, action: String?, attempt: Int, observer: (any RunObserver)?) {
        self.store = store
        self.runID = runID
        self.action = action
        self.attempt = attempt
        self.observer = observer
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                self?.flush()
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
        if full || closed.withLock({ $0 }) { flush() }
    }

    func flush() {
        let lines = buffer.withLock { lines -> [NewLogLine] in
            defer { lines.removeAll(keepingCapacity: true) }
            return lines
        }
        guard !lines.isEmpty else { return }
        try? store.appendLogs(lines)
    }

    /// Flushes and stops the periodic flusher.
    func close() {
        closed.withLock { $0 = true }
        flusher.withLock { $0?.cancel() }
        flush()
    }
}
