public import StateStore

/// A run's log lines as they are stored (`runs logs [--follow]`, the HTTP
/// log stream): every line from the start, then, when following, new lines
/// as they arrive until the run has ended and its last lines are read.
public struct LogFollower: Sendable {
    /// The state store.
    public let store: any StateStore
    /// The run.
    public let runID: RecordID
    /// How often a followed run is looked at for new lines, when the store is
    /// not told of them (see ``StateStore/waitForChange(_:ofRun:timeout:)``).
    public var pollInterval: Duration = .milliseconds(200)
    /// Lines read per store call.
    public var batchSize = 5_000

    /// Follows `runID` in `store`.
    public init(store: any StateStore, runID: RecordID) {
        self.store = store
        self.runID = runID
    }

    /// Hands every line after `afterID` (oldest first) to `body`; with
    /// `follow`, keeps going until the run ends. Throws the store's error;
    /// ends quietly when the calling task is cancelled.
    public func lines(after afterID: RecordID = 0, follow: Bool, _ body: (LogRecord) async -> Void) async throws(StateStoreError) {
        var last = afterID
        while !Task.isCancelled {
            // Read the status before the lines: a run that had ended then has every line stored.
            let ended = try await store.run(id: runID)?.status.isFinished ?? true
            let lines = try await store.logs(runID: runID, afterID: last, limit: batchSize)
            for line in lines { await body(line) }
            last = lines.last?.id ?? last
            if lines.count == batchSize { continue }
            if !follow || ended { return }
            // Woken by new lines or the run's end (a store that is told of changes), else polls.
            await store.waitForChange([.logs, .status], ofRun: runID, timeout: pollInterval)
        }
    }
}
