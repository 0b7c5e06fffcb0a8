import Foundation
import GRDB

/// Who copies the SQLite write-ahead log back into the database file
/// (a checkpoint, <https://www.sqlite.org/wal.html#checkpointing>).
public enum WALCheckpointing: Sendable, Equatable {
    /// SQLite's default: the write that grows the log past 1,000 pages
    /// checkpoints it before it returns, its fsync of the database file
    /// included. Right for a short process (a CLI command).
    case automatic
    /// Writes never checkpoint; the store does, on a connection of its own,
    /// every `interval` (a PASSIVE checkpoint: it copies what no reader still
    /// needs and waits for nobody). For a long-running process (`serve`):
    /// a write (a hook being triggered) no longer waits behind a checkpoint's
    /// fsync. The log still stops growing, since the next write after a
    /// complete checkpoint starts it again from the beginning.
    case background(interval: Duration)
}

/// The background checkpoints of ``WALCheckpointing/background(interval:)``:
/// a task that runs until the store goes away.
final class WALCheckpointer: Sendable {
    private let task: Task<Void, Never>

    /// Starts checkpointing the database at `path` every `interval`, on its
    /// own connection. Throws when that connection cannot be opened.
    init(path: String, interval: Duration) throws {
        var configuration = Configuration()
        configuration.label = "flowrunner-state-checkpoints"
        configuration.busyMode = .timeout(SQLiteStateStore.busyTimeout)
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        task = Task.detached(priority: .background) {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                // A failed checkpoint (busy, a full disk) is tried again at
                // the next tick; writes are not affected by it.
                _ = try? await connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }
    }

    deinit { task.cancel() }
}
