import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// Stores a driver version. The same content (driver name and digest)
    /// again is a no-op returning the stored version with `created == false`;
    /// new content gets the driver's next `number`. Two processes loading
    /// the same driver at once take turns (a lock per driver name for the
    /// transaction), so numbers are never skipped nor taken twice. New content
    /// with two files of one path throws ``StateStoreError/Code/database`` and stores nothing.
    public func storeDriverVersion(
        driver: String, specVersion: String, digest: String, files: [StoredDriverFile], sourceDirectory: String?
    ) async throws(StateStoreError) -> (record: DriverVersionRecord, created: Bool) {
        let now = fixedNow
        return try await transaction { sql in
            // One loader per driver name at a time: the next number and the digest check see every earlier load.
            try await sql.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("flowrunner driver " + driver), 0))")
            if let existing = try await sql.rows("SELECT * FROM driver_versions WHERE driver = \(driver) AND digest = \(digest)").first {
                var record = try DriverVersionRecord(row: existing)
                if let sourceDirectory, sourceDirectory != record.sourceDirectory {
                    try await sql.execute("UPDATE driver_versions SET source_directory = \(sourceDirectory) WHERE id = \(record.id)")
                    record.sourceDirectory = sourceDirectory
                }
                return (record, false)
            }
            var paths = Set<[UInt8]>()
            for file in files where !paths.insert(Array(file.path.utf8)).inserted {
                throw self.refusal(.database, "duplicate key value violates unique constraint driver_files_pkey (\(file.path) twice)")
            }
            let inserted = try await sql.rows("""
                INSERT INTO driver_versions (driver, number, spec_version, digest, loaded_at, source_directory)
                SELECT \(driver), COALESCE(MAX(number), 0) + 1, \(specVersion), \(digest), \(now: now), \(sourceDirectory)
                FROM driver_versions WHERE driver = \(driver)
                RETURNING *
                """)
            guard let row = inserted.first else { throw self.refusal(.database, "the driver version was not stored") }
            let record = try DriverVersionRecord(row: row)
            if !files.isEmpty {
                try await sql.execute("""
                    INSERT INTO driver_files (driver_version_id, path, contents)
                    SELECT \(record.id), path, contents FROM unnest(\(files.map(\.path))::text[], \(files.map { ByteBuffer(bytes: $0.contents) })::bytea[]) AS f (path, contents)
                    """)
            }
            return (record, true)
        }
    }

    /// Every stored driver version (of one driver, when named), by driver and number.
    public func driverVersions(driver: String?) async throws(StateStoreError) -> [DriverVersionRecord] {
        let rows = if let driver {
            try await query("SELECT * FROM driver_versions WHERE driver = \(driver) ORDER BY number")
        } else {
            try await query("SELECT * FROM driver_versions ORDER BY driver, number")
        }
        return try decode(rows, DriverVersionRecord.init(row:))
    }

    /// The driver version with this id, or nil.
    public func driverVersion(id: RecordID) async throws(StateStoreError) -> DriverVersionRecord? {
        try decode(try await query("SELECT * FROM driver_versions WHERE id = \(id)"), DriverVersionRecord.init(row:)).first
    }

    /// Version `number` of `driver`, or its newest when `number` is nil.
    public func driverVersion(driver: String, number: Int?) async throws(StateStoreError) -> DriverVersionRecord? {
        let rows = if let number {
            try await query("SELECT * FROM driver_versions WHERE driver = \(driver) AND number = \(number)")
        } else {
            try await query("SELECT * FROM driver_versions WHERE driver = \(driver) ORDER BY number DESC LIMIT 1")
        }
        return try decode(rows, DriverVersionRecord.init(row:)).first
    }

    /// The files of a stored driver version, by path (none for an unknown id).
    public func driverFiles(versionID: RecordID) async throws(StateStoreError) -> [StoredDriverFile] {
        let rows = try await query("SELECT path, contents FROM driver_files WHERE driver_version_id = \(versionID) ORDER BY path")
        return try decode(rows) { row in
            StoredDriverFile(path: try row.value("path"), contents: [UInt8](try row.value("contents", as: Data.self)))
        }
    }

    /// Reads records from rows, as ``StateStoreError``s when a row cannot be read.
    func decode<T>(_ rows: [PostgresRandomAccessRow], _ read: (PostgresRandomAccessRow) throws -> T) throws(StateStoreError) -> [T] {
        do {
            return try rows.map(read)
        } catch {
            throw failure(error)
        }
    }
}
