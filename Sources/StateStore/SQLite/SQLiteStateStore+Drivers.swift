import Foundation
import GRDB

extension SQLiteStateStore {
    /// Stores a driver version. Loading the same content (same driver name
    /// and digest) again is a no-op that returns the stored version with
    /// `created == false`; new content gets the next `number`.
    public func storeDriverVersion(
        driver: String, specVersion: String, digest: String, files: [StoredDriverFile], sourceDirectory: String?
    ) async throws(StateStoreError) -> (record: DriverVersionRecord, created: Bool) {
        let now = clock.now
        return try await write { db in
            if let existing = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM driver_versions WHERE driver = ? AND digest = ?"), arguments: [driver, digest]) {
                var record = DriverVersionRecord(row: existing)
                if let sourceDirectory, sourceDirectory != record.sourceDirectory {
                    try db.cachedStatement(sql: "UPDATE driver_versions SET source_directory = ? WHERE id = ?").execute(arguments: [sourceDirectory, record.id])
                    record.sourceDirectory = sourceDirectory
                }
                return (record, false)
            }
            let number = (try Int.fetchOne(db.cachedStatement(sql: "SELECT MAX(number) FROM driver_versions WHERE driver = ?"), arguments: [driver]) ?? 0) + 1
            try db.execute(
                sql: "INSERT INTO driver_versions (driver, number, spec_version, digest, loaded_at, source_directory) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [driver, number, specVersion, digest, now.storedValue, sourceDirectory]
            )
            let id = db.lastInsertedRowID
            let insert = try db.cachedStatement(sql: "INSERT INTO driver_files (driver_version_id, path, contents) VALUES (?, ?, ?)")
            for file in files {
                try insert.execute(arguments: [id, file.path, Data(file.contents)])
            }
            return (DriverVersionRecord(id: id, driver: driver, number: number, specVersion: specVersion, digest: digest,
                                        loadedAt: Date(storedValue: now.storedValue), sourceDirectory: sourceDirectory), true)
        }
    }

    /// Every stored driver version (of one driver, when named), by driver and number.
    public func driverVersions(driver: String? = nil) async throws(StateStoreError) -> [DriverVersionRecord] {
        try await read { db in
            let rows = if let driver {
                try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM driver_versions WHERE driver = ? ORDER BY number"), arguments: [driver])
            } else {
                try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM driver_versions ORDER BY driver, number"))
            }
            return rows.map(DriverVersionRecord.init(row:))
        }
    }

    /// The driver version with this id.
    public func driverVersion(id: RecordID) async throws(StateStoreError) -> DriverVersionRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM driver_versions WHERE id = ?"), arguments: [id]).map(DriverVersionRecord.init(row:))
        }
    }

    /// Version `number` of `driver`, or its newest version when `number` is nil.
    public func driverVersion(driver: String, number: Int? = nil) async throws(StateStoreError) -> DriverVersionRecord? {
        try await read { db in
            let row = if let number {
                try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM driver_versions WHERE driver = ? AND number = ?"), arguments: [driver, number])
            } else {
                try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM driver_versions WHERE driver = ? ORDER BY number DESC LIMIT 1"), arguments: [driver])
            }
            return row.map(DriverVersionRecord.init(row:))
        }
    }

    /// The files of a stored driver version, by path.
    public func driverFiles(versionID: RecordID) async throws(StateStoreError) -> [StoredDriverFile] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT path, contents FROM driver_files WHERE driver_version_id = ? ORDER BY path"), arguments: [versionID])
                .map { row in StoredDriverFile(path: row["path"], contents: [UInt8](row["contents"] as Data)) }
        }
    }
}

extension DriverVersionRecord {
    init(row: Row) {
        self.init(
            id: row["id"], driver: row["driver"], number: row["number"], specVersion: row["spec_version"],
            digest: row["digest"], loadedAt: Date(storedValue: row["loaded_at"]), sourceDirectory: row["source_directory"]
        )
    }
}
