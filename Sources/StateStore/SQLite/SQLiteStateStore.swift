public import Foundation
import FlowModel
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// The embedded ``StateStore``: one SQLite database file (WAL mode) holding
/// driver versions, deployments, runs, action runs, steps, log lines, the
/// simulated clusters and the run queue.
///
/// Contract (besides ``StateStore``'s):
/// - Several processes may open the same file at once (a `serve` and a CLI):
///   writes are short `BEGIN IMMEDIATE` transactions, reads never block
///   writers, and a writer waits up to the busy timeout for another.
/// - A write that returned is durable against a crash of the process
///   (`synchronous=NORMAL` in WAL mode); a power loss may lose the last
///   transactions but never corrupts the file.
/// - Status changes are checked against ``RunStatus/allowedNext`` (and the
///   action and step equivalents) inside the writing transaction; an illegal
///   one throws ``StateStoreError/Code/illegalTransition`` and writes nothing.
/// - Every failure is a ``StateStoreError`` naming the file. A file that is
///   not a SQLite database, or was written by a newer FlowRunner, is refused
///   and left untouched.
public final class SQLiteStateStore: StateStore {
    /// The database file.
    public let path: String
    /// Where the store reads the time.
    public let clock: StoreClock
    let pool: DatabasePool
    /// Set with ``WALCheckpointing/background(interval:)``.
    private let checkpointer: WALCheckpointer?

    public var location: String { path }

    public func currentTime() -> Date { clock.now }

    /// How long a writer waits for another process's write transaction.
    public static let busyTimeout: TimeInterval = 10

    /// Opens (creating if needed, the file `0600` in a `0700` directory) and
    /// migrates the database at `path`. With `readOnly`, nothing is created,
    /// migrated or written, not even a checkpoint: a missing file, or one whose
    /// schema needs migrating, is refused instead.
    ///
    /// `checkpointing` says who checkpoints the write-ahead log
    /// (``WALCheckpointing``; ignored with `readOnly`).
    ///
    /// Throws ``StateStoreError`` naming the path when the file is not a
    /// FlowRunner database, lacks one of its tables (damaged), was written by
    /// a newer FlowRunner, or cannot be opened; the file is then left untouched.
    public init(
        path: String, clock: StoreClock = .system, readOnly: Bool = false, checkpointing: WALCheckpointing = .automatic
    ) throws(StateStoreError) {
        self.path = path
        self.clock = clock
        try Self.checkFile(at: path, create: !readOnly)
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "flowrunner-state"
        if !readOnly {
            let background = checkpointing != .automatic
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                if background { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
            }
        }
        try Self.refuseNewerSchema(at: path)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            if case .background(let interval) = checkpointing, !readOnly {
                checkpointer = try WALCheckpointer(path: path, interval: interval)
            } else {
                checkpointer = nil
            }
        } catch {
            throw Self.mapError(error, path: path)
        }
        if readOnly {
            let pending = try readNow { db in try Migrations.migrator.hasCompletedMigrations(db) ? [] : ["pending"] }
            if !pending.isEmpty {
                throw StateStoreError(.newerSchema, location: path,
                    "written by an older FlowRunner; any command that writes (deploy, upgrade, runs retry) migrates it first")
            }
        } else {
            try migrate()
        }
        try checkTables()
    }

    /// The tables every migrated state file has.
    static let requiredTables: Set<String> = [
        "driver_versions", "driver_files", "deployments", "runs", "action_runs", "steps", "logs",
        "simulated_clusters", "simulated_jobs", "backups",
    ]

    /// Files up to this size (8 MiB, a few thousand runs) get SQLite's
    /// `quick_check` at every open: a few milliseconds. Larger files rely on
    /// the errors SQLite raises when a damaged page is read.
    static let quickCheckLimit = 8 << 20

    /// A cheap check at open: every table is there and the schema can be
    /// read (SQLite reports a damaged schema page here); a small file is also
    /// checked page by page (`PRAGMA quick_check`).
    private func checkTables() throws(StateStoreError) {
        let present = try readNow { db in
            try Set(String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        }
        let missing = Self.requiredTables.subtracting(present).sorted()
        if !missing.isEmpty {
            throw StateStoreError(.notADatabase, location: path,
                "damaged: the table\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") missing; restore the file from a backup")
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
        guard size <= Self.quickCheckLimit else { return }
        let findings = try readNow { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            .flatMap { $0.split(separator: "\n").map(String.init) }
            .filter { !$0.hasPrefix("*** in database") }
        if findings != ["ok"] {
            throw StateStoreError(.notADatabase, location: path,
                "damaged: \(findings.first ?? "quick_check failed")\(findings.count > 1 ? " (and \(findings.count - 1) more findings)" : ""); restore the file from a backup")
        }
    }

    /// `--state PATH`, else `$FLOWRUNNER_STATE`, else `~/.flowrunner/state.sqlite`.
    public static func resolvePath(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["FLOWRUNNER_STATE"], !fromEnvironment.isEmpty { return fromEnvironment }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.flowrunner/state.sqlite"
    }

    // MARK: Opening

    private static let sqliteHeader = Array("SQLite format 3\0".utf8)

    /// Refuses a directory or a non-SQLite file before SQLite touches it, and
    /// (with `create`) creates a new file `0600` and its directory `0700`, so
    /// no other user can read the state; without `create` a missing file is refused.
    private static func checkFile(at path: String, create: Bool) throws(StateStoreError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            if isDirectory.boolValue {
                throw StateStoreError(.cannotOpen, location: path, "is a directory (expected a SQLite state file)")
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StateStoreError(.cannotOpen, location: path, "cannot read the file (check its permissions)")
            }
            defer { try? handle.close() }
            let header = (try? handle.read(upToCount: sqliteHeader.count)) ?? Data()
            if !header.isEmpty, [UInt8](header) != sqliteHeader {
                throw StateStoreError(.notADatabase, location: path, "not a SQLite database (expected a FlowRunner state file); the file was left untouched")
            }
            return
        }
        guard create else {
            throw StateStoreError(.notFound, location: path, "no state file here yet (nothing has been deployed with it); pass --state or set FLOWRUNNER_STATE to use another")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !manager.fileExists(atPath: directory) {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StateStoreError(.cannotOpen, location: path, "cannot create the directory \(directory): \(error.localizedDescription)")
            }
        }
        let descriptor = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    /// Looks at an existing file through a read-only connection, so that a
    /// database written by a newer FlowRunner is refused before anything
    /// (not even a checkpoint) touches it.
    private static func refuseNewerSchema(at path: String) throws(StateStoreError) {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int, size > 0 else { return }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let unknown = try queue.read { db -> [String] in
                guard try db.tableExists("grdb_migrations") else { return [] }
                return try Migrations.migrator.appliedIdentifiers(db).subtracting(Migrations.identifiers).sorted()
            }
            try queue.close()
            if !unknown.isEmpty {
                throw StateStoreError(.newerSchema, location: path,
                    "written by a newer FlowRunner (unknown schema migrations: \(unknown.joined(separator: ", "))); upgrade flowrunner to use it")
            }
        } catch {
            throw mapError(error, path: path)
        }
    }

    private func migrate() throws(StateStoreError) {
        do {
            try Migrations.migrator.migrate(pool)
        } catch {
            throw Self.mapError(error, path: path)
        }
    }

    /// The schema migrations applied to this database, in order.
    public func appliedMigrations() throws(StateStoreError) -> [String] {
        try readNow { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// Runs SQLite's `PRAGMA integrity_check`; returns its findings (empty when sound).
    public func integrityProblems() throws(StateStoreError) -> [String] {
        try readNow { db in
            let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            return rows == ["ok"] ? [] : rows
        }
    }

    /// Copies the write-ahead log into the main file and truncates it (for
    /// backups and size measurements; SQLite also does this on its own).
    public func checkpoint() throws(StateStoreError) {
        do {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            throw Self.mapError(error, path: path)
        }
    }

    // MARK: Transactions

    /// A short write transaction that takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write cannot lose a race. The wait
    /// for the lock happens on GRDB's writer queue, never on a cooperative
    /// thread; on a ``DedicatedThread`` (a host session's) the transaction
    /// runs on the calling thread, which may wait.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StateStoreError) -> T {
        let path = path
        let transaction = { @Sendable (db: Database) throws -> T in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            guard let result else { throw StateStoreError(.database, location: path, "transaction produced no result") }
            return result
        }
        do {
            if DedicatedThread.isCurrent {
                // As GRDB's asynchronous write does: a cancelled task (a call cut off with its action) writes nothing.
                try Task.checkCancellation()
                return try writeOnThisThread(transaction)
            }
            return try await pool.writeWithoutTransaction(transaction)
        } catch {
            throw Self.mapError(error, path: path)
        }
    }

    /// GRDB's synchronous write: on the calling thread when the writer is
    /// free (else it waits for it).
    private func writeOnThisThread<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction(body)
    }

    /// A read from a consistent snapshot on GRDB's reader pool; never blocks writers.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StateStoreError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.mapError(error, path: path)
        }
    }

    /// A synchronous read, for the SQLite-only maintenance calls.
    func readNow<T>(_ body: (Database) throws -> T) throws(StateStoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw Self.mapError(error, path: path)
        }
    }

    static func mapError(_ error: any Error, path: String) -> StateStoreError {
        if let error = error as? StateStoreError { return error }
        guard let error = error as? DatabaseError else {
            return StateStoreError(.database, location: path, "\(error)")
        }
        let message = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StateStoreError(.notADatabase, location: path, "not a usable SQLite database (\(message)); the file was left untouched")
        case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH, .SQLITE_IOERR:
            return StateStoreError(.cannotOpen, location: path, "cannot open or write the database (\(message)); check that the file and its directory are writable")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StateStoreError(.busy, location: path, "the database stayed locked by another process for more than \(Int(busyTimeout)) s (\(message))")
        default:
            return StateStoreError(.database, location: path, message)
        }
    }
}

extension Date {
    /// Seconds since 1970, as stored.
    var storedValue: Double { timeIntervalSince1970 }

    init(storedValue: Double) {
        self.init(timeIntervalSince1970: storedValue)
    }
}

extension Row {
    func date(_ column: String) -> Date? {
        (self[column] as Double?).map(Date.init(storedValue:))
    }
}

/// A stored word (a status, hook, mode or step kind) that is not one of its
/// closed set: the file was written by something else or is damaged.
struct UnknownStoredWord: Error, CustomStringConvertible {
    var table: String
    var column: String
    var value: String
    var expected: [String]

    var description: String {
        "\(table).\(column) holds \"\(value)\", expected one of \(expected.joined(separator: ", ")) (written by a newer FlowRunner, or damaged)"
    }
}

extension Row {
    /// The closed-set value in `column`.
    ///
    /// - Throws: ``UnknownStoredWord`` when the text is not one of `T`'s raw values.
    func word<T: RawRepresentable & CaseIterable>(_ column: String, of table: String) throws -> T where T.RawValue == String {
        try word(self[column], column, of: table)
    }

    /// The same for the column at `index` (a statement whose columns are
    /// listed: no lookup by name), `column` naming it in the error.
    func word<T: RawRepresentable & CaseIterable>(at index: Int, _ column: String, of table: String) throws -> T where T.RawValue == String {
        try word(self[index], column, of: table)
    }

    private func word<T: RawRepresentable & CaseIterable>(_ text: String, _ column: String, of table: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw UnknownStoredWord(table: table, column: column, value: text, expected: T.allCases.map(\.rawValue))
        }
        return value
    }
}
