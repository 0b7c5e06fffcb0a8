import Foundation
import GRDB

/// One column value of a stored row, as a copy between stores carries it
/// (SQLite's storage classes).
public enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// Rows of one table, with its column names as the schema names them.
public struct StoredRows: Sendable, Hashable {
    public var table: String
    public var columns: [String]
    public var rows: [[StoredValue]]

    public init(table: String, columns: [String], rows: [[StoredValue]]) {
        self.table = table
        self.columns = columns
        self.rows = rows
    }
}

extension SQLiteStateStore {
    /// The tables `flowrunner state copy` carries, each after the tables it references.
    public static let copiedTables = [
        "driver_versions", "driver_files", "deployments", "runs", "action_runs", "steps", "logs", "simulated_clusters", "simulated_jobs",
        "run_ends", "webhooks", "webhook_deliveries", "clusters", "backups", "attempt_ends",
    ]

    /// The tables of ``copiedTables`` without an `id` column, with the
    /// columns that order them (they are read in one page).
    static let keyedTables: [String: String] = [
        "driver_files": "driver_version_id, path", "simulated_clusters": "deployment", "simulated_jobs": "deployment, name", "clusters": "name",
    ]

    /// Up to `limit` rows of `table` (one of ``copiedTables``) with an id
    /// above `afterID`, by id; a table without ids comes whole in its first
    /// page (`afterID` nil) and empty after it.
    ///
    /// - Throws: ``StateStoreError/Code/notFound`` for a table that is not copied.
    public func exportRows(of table: String, afterID: Int64?, limit: Int) async throws(StateStoreError) -> StoredRows {
        guard Self.copiedTables.contains(table) else { throw StateStoreError(.notFound, location: path, "no table \(table) to copy") }
        let sql: String
        let arguments: StatementArguments
        if let order = Self.keyedTables[table] {
            guard afterID == nil else { return StoredRows(table: table, columns: [], rows: []) }
            sql = "SELECT * FROM \(table) ORDER BY \(order)"
            arguments = []
        } else {
            sql = "SELECT * FROM \(table) WHERE id > ? ORDER BY id LIMIT ?"
            arguments = [afterID ?? Int64.min, max(1, limit)]
        }
        return try await read { db in
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            var columns: [String] = []
            var rows: [[StoredValue]] = []
            while let row = try cursor.next() {
                if columns.isEmpty { columns = Array(row.columnNames) }
                rows.append(row.databaseValues.map { value in
                    switch value.storage {
                    case .null: .null
                    case .int64(let integer): .integer(integer)
                    case .double(let real): .real(real)
                    case .string(let text): .text(text)
                    case .blob(let data): .blob([UInt8](data))
                    }
                })
            }
            return StoredRows(table: table, columns: columns, rows: rows)
        }
    }

    /// The largest id each `AUTOINCREMENT` table has handed out (deleted rows
    /// included), so that a copy never gives such an id again.
    public func autoincrementCounters() async throws(StateStoreError) -> [String: Int64] {
        try await read { db in
            guard try db.tableExists("sqlite_sequence") else { return [:] }
            var counters: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence") {
                counters[row["name"]] = row["seq"]
            }
            return counters
        }
    }
}
