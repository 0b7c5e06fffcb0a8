public import Foundation

/// The in-memory ``StateStore``: the test double of ``SQLiteStateStore``,
/// for tests of the engine and the scheduler that need a store but not a file.
///
/// Contract (besides ``StateStore``'s):
/// - It answers every method exactly as ``SQLiteStateStore`` does on a fresh
///   database: the same ids (1, 2, ... per table; like SQLite's row ids, the
///   largest id in the table plus one, so the ids of the newest rows come
///   back after ``pruneRuns(endedBefore:)`` deleted them), the same orderings,
///   idempotency, transition checks, lease rules and ``StateStoreError``
///   codes. That includes SQLite's own answers to broken references: a run,
///   action run, step, log line or deployment naming a record that does not
///   exist, and a step recorded twice, throw ``StateStoreError/Code/database``
///   as SQLite's constraint failures do.
/// - Text is compared byte by byte (SQLite's `BINARY` collation), times are
///   kept at SQLite's precision (seconds since 1970 in a `Double`).
/// - Each method runs as one uninterrupted step of the actor, so it is
///   atomic; a method that throws has changed nothing.
/// - Nothing outlives the instance. ``location`` names it in errors.
public actor InMemoryStateStore: StateStore {
    /// What errors name as the store: `memory` unless given.
    public nonisolated let location: String
    /// Where the store reads the time (a ``StoreClock/manual(_:)`` clock in tests).
    public nonisolated let clock: StoreClock
    /// The records, one value per SQLite table.
    var tables = MemoryTables()

    /// An empty store reading the time from `clock`, named `location` in errors.
    public init(clock: StoreClock = .system, location: String = "memory") {
        self.clock = clock
        self.location = location
    }

    /// The time by the store's clock.
    public nonisolated func currentTime() -> Date { clock.now }

    /// An error naming this store.
    nonisolated func failure(_ code: StateStoreError.Code, _ reason: String) -> StateStoreError {
        StateStoreError(code, location: location, reason)
    }

    /// What SQLite says when a row references a missing record (the foreign
    /// key constraint), as ``StateStoreError/Code/database``.
    nonisolated func missingReference(_ what: String) -> StateStoreError {
        failure(.database, "FOREIGN KEY constraint failed (no \(what))")
    }

    // MARK: Driver versions

    /// Stores a driver version. The same content (driver name and digest)
    /// again is a no-op returning the stored version with `created == false`;
    /// new content gets the driver's next `number` (1, 2, ...). Two files
    /// with the same path throw ``StateStoreError/Code/database`` (SQLite's
    /// unique constraint) and store nothing.
    public func storeDriverVersion(
        driver: String, specVersion: String, digest: String, files: [StoredDriverFile], sourceDirectory: String?
    ) async throws(StateStoreError) -> (record: DriverVersionRecord, created: Bool) {
        let now = clock.now.asStored
        if let existing = tables.driverVersions.rows.first(where: { StoredText.same($0.driver, driver) && StoredText.same($0.digest, digest) }) {
            guard let sourceDirectory, sourceDirectory != existing.sourceDirectory else { return (existing, false) }
            return (tables.driverVersions.update(existing.id) { $0.sourceDirectory = sourceDirectory } ?? existing, false)
        }
        var paths = Set<StoredText>()
        for file in files where !paths.insert(StoredText(file.path)).inserted {
            throw failure(.database, "UNIQUE constraint failed: driver_files.driver_version_id, driver_files.path (\(file.path) twice)")
        }
        let number = (tables.driverVersions.rows.filter { StoredText.same($0.driver, driver) }.map(\.number).max() ?? 0) + 1
        let record = tables.driverVersions.insert { id in
            DriverVersionRecord(id: id, driver: driver, number: number, specVersion: specVersion, digest: digest, loadedAt: now,
                                sourceDirectory: sourceDirectory)
        }
        tables.driverFiles[record.id] = files.sorted { StoredText.precedes($0.path, $1.path) }
        return (record, true)
    }

    /// Every stored driver version (of one driver, when named), by driver and number.
    public func driverVersions(driver: String? = nil) async throws(StateStoreError) -> [DriverVersionRecord] {
        let versions = tables.driverVersions.rows
        if let driver {
            return versions.filter { StoredText.same($0.driver, driver) }.sorted { $0.number < $1.number }
        }
        return versions.sorted { a, b in
            StoredText.same(a.driver, b.driver) ? a.number < b.number : StoredText.precedes(a.driver, b.driver)
        }
    }

    /// The driver version with this id, or nil.
    public func driverVersion(id: RecordID) async throws(StateStoreError) -> DriverVersionRecord? {
        tables.driverVersions[id]
    }

    /// Version `number` of `driver`, or its newest when `number` is nil.
    public func driverVersion(driver: String, number: Int? = nil) async throws(StateStoreError) -> DriverVersionRecord? {
        let versions = tables.driverVersions.rows.filter { StoredText.same($0.driver, driver) }
        if let number {
            return versions.first { $0.number == number }
        }
        return versions.max { $0.number < $1.number }
    }

    /// The files of a stored driver version, by path (none for an unknown id).
    public func driverFiles(versionID: RecordID) async throws(StateStoreError) -> [StoredDriverFile] {
        tables.driverFiles[versionID] ?? []
    }
}
