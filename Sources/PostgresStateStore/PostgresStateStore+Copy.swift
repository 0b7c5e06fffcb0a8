import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// How many rows one `INSERT` of a copy carries at most (PostgreSQL takes
    /// 65,535 parameters per statement).
    static let copyBatchParameters = 30_000

    /// Copies every record of a SQLite state store into this database
    /// (`flowrunner state copy`): every table of ``SQLiteStateStore/copiedTables``
    /// row by row with its ids, then each id sequence set past the largest id
    /// (and past what SQLite's `AUTOINCREMENT` handed out), all in one
    /// transaction: a copy that fails leaves this database as it was.
    /// `progress` hears each table's name and how many rows it copied.
    /// NUL characters in text, which PostgreSQL cannot hold, become U+FFFD.
    ///
    /// - Returns: the rows copied per table.
    /// - Throws: ``StateStoreError/Code/alreadyExists`` when this database
    ///   holds records already; ``StateStoreError/Code/notADatabase`` when a
    ///   source table has a column this schema lacks; any error of either store.
    @discardableResult
    public func copy(from source: SQLiteStateStore, progress: @Sendable (String, Int) -> Void = { _, _ in }) async throws(StateStoreError) -> [String: Int] {
        let counters = try await source.autoincrementCounters()
        return try await transaction { sql in
            let occupied = try await sql.rows("""
                SELECT EXISTS (SELECT 1 FROM driver_versions) OR EXISTS (SELECT 1 FROM deployments) OR EXISTS (SELECT 1 FROM runs)
                    OR EXISTS (SELECT 1 FROM clusters) OR EXISTS (SELECT 1 FROM webhooks) AS occupied
                """)
            if try occupied.first?.value("occupied", as: Bool.self) == true {
                throw self.refusal(.alreadyExists, "holds records already; copy into an empty database (a new one, migrated by flowrunner state migrate)")
            }
            var copied: [String: Int] = [:]
            for table in SQLiteStateStore.copiedTables {
                let types = try await self.columnTypes(of: table, sql)
                var after: Int64?
                var count = 0
                while true {
                    let page = try await source.exportRows(of: table, afterID: after, limit: 2_000)
                    if page.rows.isEmpty { break }
                    try await self.insert(page, types: types, sql)
                    count += page.rows.count
                    guard let idIndex = page.columns.firstIndex(of: "id"), case .integer(let last)? = page.rows.last?[idIndex] else { break }
                    after = last
                }
                if types["id"] != nil {
                    let floor = counters[table] ?? 0
                    try await sql.execute("""
                        SELECT setval(pg_get_serial_sequence(\(table), 'id'), GREATEST(COALESCE(MAX(id), 0), \(floor)) + 1, false)
                        FROM \(unescaped: table)
                        """)
                }
                copied[table] = count
                progress(table, count)
            }
            return copied
        }
    }

    /// The columns of `table` in this database and their types (`bigint`, `text`, ...).
    private func columnTypes(of table: String, _ sql: Transaction) async throws -> [String: String] {
        let rows = try await sql.rows("""
            SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table)
            """)
        var types: [String: String] = [:]
        for row in rows { types[try row.value("name", as: String.self)] = try row.value("type", as: String.self) }
        return types
    }

    /// Inserts a page of rows, in batches, each value converted to its column's type.
    private func insert(_ page: StoredRows, types: [String: String], _ sql: Transaction) async throws {
        var columnTypes: [String] = []
        for column in page.columns {
            guard let type = types[column] else {
                throw refusal(.notADatabase, "the copied table \(page.table) has a column \(column) this schema lacks (written by a newer FlowRunner?)")
            }
            columnTypes.append(type)
        }
        let rowsPerBatch = max(1, Self.copyBatchParameters / max(1, page.columns.count))
        var start = 0
        while start < page.rows.count {
            let batch = page.rows[start..<min(start + rowsPerBatch, page.rows.count)]
            var binds = PostgresBindings(capacity: batch.count * page.columns.count)
            var tuples: [String] = []
            for row in batch {
                var placeholders: [String] = []
                for (index, value) in row.enumerated() {
                    try Self.bind(value, as: columnTypes[index], column: "\(page.table).\(page.columns[index])", into: &binds)
                    placeholders.append("$\(binds.count)::\(columnTypes[index])")
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            let statement = "INSERT INTO \(page.table) (\(page.columns.joined(separator: ", "))) VALUES " + tuples.joined(separator: ", ")
            try await sql.execute(PostgresQuery(unsafeSQL: statement, binds: binds))
            start += batch.count
        }
    }

    /// Appends `value` as a parameter of the column type `type`.
    private static func bind(_ value: StoredValue, as type: String, column: String, into binds: inout PostgresBindings) throws {
        switch (value, type) {
        case (.null, _): binds.appendNull()
        case (.integer(let integer), "boolean"): binds.append(integer != 0)
        case (.integer(let integer), "bigint"), (.integer(let integer), "integer"): binds.append(integer)
        case (.integer(let integer), "double precision"): binds.append(Double(integer))
        case (.real(let real), "double precision"): binds.append(real)
        case (.text(let text), "text"): binds.append(StorableText.storable(text))
        case (.integer(let integer), "text"): binds.append(String(integer))
        case (.real(let real), "text"): binds.append(String(real))
        case (.blob(let bytes), "bytea"): binds.append(ByteBuffer(bytes: bytes))
        case (.text(let text), "bytea"): binds.append(ByteBuffer(bytes: Array(text.utf8)))
        case (.blob(let bytes), "text"):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw StoredValueError(description: "\(column) holds bytes that are not UTF-8 text")
            }
            binds.append(StorableText.storable(text))
        default:
            throw StoredValueError(description: "\(column) holds \(value), which a \(type) column cannot take")
        }
    }
}
