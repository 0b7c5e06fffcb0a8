import Foundation
import GRDB

extension SQLiteStateStore {
    static let backupColumns = "backups.*, deployments.name AS deployment_name, runs.status AS run_status"
    static let backupFrom = "backups JOIN deployments ON deployments.id = backups.deployment_id LEFT JOIN runs ON runs.id = backups.run_id"

    /// Records a backup and creates its run, in one transaction.
    public func createBackup(_ new: NewBackup, run: NewRun) async throws(StateStoreError) -> (backup: BackupRecord, run: RunRecord) {
        let now = clock.now
        let path = path
        return try await write { db in
            if let key = run.idempotencyKey,
               let existing = try Row.fetchOne(db, sql: "SELECT \(Self.runColumns) FROM \(Self.runFrom) WHERE runs.deployment_id = ? AND runs.idempotency_key = ?",
                                               arguments: [run.deploymentID, key]) {
                let record = try RunRecord(row: existing)
                guard let backup = try Self.fetchBackup(db, condition: "backups.run_id = ?", record.id) else {
                    throw StateStoreError(.alreadyExists, location: path,
                        "idempotency key \"\(key)\" of deployment \(run.deploymentID) names run \(record.id), a \(record.hook.rawValue) run, not a backup")
                }
                return (backup, record)
            }
            try Self.admit(run, db, location: path)
            try db.execute(sql: """
                INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, idempotency_key,
                                  not_before, created_at, request_digest)
                VALUES (?, ?, 'queued', 1, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run.deploymentID, run.hook.rawValue, run.inputsJSON, run.contextJSON, run.driverVersionID,
                                 run.idempotencyKey, run.notBefore?.storedValue, now.storedValue, run.requestDigest])
            let runID = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO backups (deployment_id, run_id, app_version, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [new.deploymentID, runID, new.appVersion, now.storedValue])
            let backupID = db.lastInsertedRowID
            try db.execute(sql: "UPDATE runs SET inputs = json_set(inputs, '$.backup_id', ?) WHERE id = ?", arguments: [backupID, runID])
            guard let backup = try Self.fetchBackup(db, condition: "backups.id = ?", backupID),
                  let record = try Self.fetchRun(db, id: runID) else {
                throw StateStoreError(.notFound, location: path, "no deployment with id \(new.deploymentID)")
            }
            return (backup, record)
        }
    }

    /// The backup with this id.
    public func backup(id: RecordID) async throws(StateStoreError) -> BackupRecord? {
        try await read { db in try Self.fetchBackup(db, condition: "backups.id = ?", id) }
    }

    /// The backup of a backup run.
    public func backup(runID: RecordID) async throws(StateStoreError) -> BackupRecord? {
        try await read { db in try Self.fetchBackup(db, condition: "backups.run_id = ?", runID) }
    }

    /// The backups of the deployments called `deployment`, or of all, newest first.
    public func backups(deployment: String?) async throws(StateStoreError) -> [BackupRecord] {
        try await read { db in
            let filter = deployment == nil ? "" : "WHERE deployments.name = ?"
            let arguments: StatementArguments = deployment.map { [$0] } ?? []
            return try Row.fetchAll(db, sql: "SELECT \(Self.backupColumns) FROM \(Self.backupFrom) \(filter) ORDER BY backups.id DESC",
                                    arguments: arguments).map(BackupRecord.init(row:))
        }
    }

    /// Records a backup's artifacts and marks it completed.
    public func completeBackup(id: RecordID, artifactsJSON: String) async throws(StateStoreError) {
        let now = clock.now
        let path = path
        try await write { db in
            try db.execute(sql: "UPDATE backups SET artifacts = ?, completed_at = COALESCE(completed_at, ?) WHERE id = ?",
                           arguments: [artifactsJSON, now.storedValue, id])
            guard db.changesCount == 1 else { throw StateStoreError(.notFound, location: path, "no backup \(id)") }
        }
    }

    /// Sets the app version of a backup not completed yet.
    public func refreezeBackup(id: RecordID, appVersion: String) async throws(StateStoreError) {
        let path = path
        try await write { db in
            guard let completed = try Row.fetchOne(db, sql: "SELECT completed_at FROM backups WHERE id = ?", arguments: [id]) else {
                throw StateStoreError(.notFound, location: path, "no backup \(id)")
            }
            guard (completed["completed_at"] as Double?) == nil else {
                throw StateStoreError(.illegalTransition, location: path, "backup \(id) is completed; its app version stays")
            }
            try db.execute(sql: "UPDATE backups SET app_version = ? WHERE id = ?", arguments: [appVersion, id])
        }
    }

    /// Deletes backup records.
    public func deleteBackups(ids: [RecordID]) async throws(StateStoreError) {
        try await write { db in
            for id in ids { try db.execute(sql: "DELETE FROM backups WHERE id = ?", arguments: [id]) }
        }
    }

    static func fetchBackup(_ db: Database, condition: String, _ value: RecordID) throws -> BackupRecord? {
        try Row.fetchOne(db, sql: "SELECT \(backupColumns) FROM \(backupFrom) WHERE \(condition)", arguments: [value]).map(BackupRecord.init(row:))
    }
}

extension BackupRecord {
    init(row: Row) throws {
        self.init(
            id: row["id"], deploymentID: row["deployment_id"], deployment: row["deployment_name"], runID: row["run_id"],
            runStatus: (row["run_status"] as String?) == nil ? nil : try row.word("run_status", of: "runs"), appVersion: row["app_version"],
            createdAt: Date(storedValue: row["created_at"]), completedAt: row.date("completed_at"), artifactsJSON: row["artifacts"]
        )
    }
}
