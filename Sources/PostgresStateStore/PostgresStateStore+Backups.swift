import FlowModel
import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    static let backupSelect = """
        SELECT backups.*, deployments.name AS deployment_name, runs.status AS run_status
        FROM backups JOIN deployments ON deployments.id = backups.deployment_id LEFT JOIN runs ON runs.id = backups.run_id
        """

    /// Records a backup and creates its `backup` run in one transaction,
    /// admitted as ``createRun(_:)`` admits runs; the run's inputs (a JSON
    /// object) get the backup's id as `backup_id`. An idempotency key the
    /// deployment already used returns the earlier run and its backup (a key
    /// that names a run of another hook throws ``StateStoreError/Code/alreadyExists``).
    /// Backup ids are never given again.
    public func createBackup(_ new: NewBackup, run: NewRun) async throws(StateStoreError) -> (backup: BackupRecord, run: RunRecord) {
        let now = fixedNow
        return try await transaction { sql in
            if let existing = try await self.admit(run, sql) {
                guard let backup = try await sql.rows("\(unescaped: Self.backupSelect) WHERE backups.run_id = \(existing.id)").first else {
                    throw self.refusal(.alreadyExists, "idempotency key \"\(run.idempotencyKey ?? "")\" of deployment \(run.deploymentID) names run \(existing.id), a \(existing.hook.rawValue) run, not a backup")
                }
                return (try BackupRecord(row: backup), existing)
            }
            guard let drawn = try await sql.rows("SELECT nextval(pg_get_serial_sequence('backups', 'id')) AS id").first else {
                throw self.refusal(.database, "no backup id was drawn")
            }
            let backupID = try drawn.value("id", as: RecordID.self)
            var inputs = run.inputsJSON
            if case .object(var object) = (try? JSONValue(jsonText: run.inputsJSON)) ?? .null {
                object["backup_id"] = .int(Int(backupID))
                inputs = JSONValue.object(object).jsonText
            }
            let record = try await self.insertRun(run, inputsJSON: inputs, now: now, sql)
            let rows = try await sql.rows("""
                WITH added AS (
                    INSERT INTO backups (id, deployment_id, run_id, app_version, created_at)
                    VALUES (\(backupID), \(new.deploymentID), \(record.id), \(new.appVersion), \(now: now)) RETURNING *)
                SELECT added.*, deployments.name AS deployment_name, 'queued' AS run_status
                FROM added JOIN deployments ON deployments.id = added.deployment_id
                """)
            guard let backup = rows.first else { throw self.refusal(.database, "no deployment with id \(new.deploymentID)") }
            return (try BackupRecord(row: backup), record)
        }
    }

    /// The backup with this id, or nil.
    public func backup(id: RecordID) async throws(StateStoreError) -> BackupRecord? {
        try decode(try await query("\(unescaped: Self.backupSelect) WHERE backups.id = \(id)"), BackupRecord.init(row:)).first
    }

    /// The backup the `backup` run `runID` takes, or nil.
    public func backup(runID: RecordID) async throws(StateStoreError) -> BackupRecord? {
        try decode(try await query("\(unescaped: Self.backupSelect) WHERE backups.run_id = \(runID)"), BackupRecord.init(row:)).first
    }

    /// The backups of every deployment called `deployment` (deleted ones included), or of all when nil, newest first.
    public func backups(deployment: String?) async throws(StateStoreError) -> [BackupRecord] {
        let rows = try await query("""
            \(unescaped: Self.backupSelect) WHERE (\(deployment)::text IS NULL OR deployments.name = \(deployment)::text) ORDER BY backups.id DESC
            """)
        return try decode(rows, BackupRecord.init(row:))
    }

    /// Records a backup's artifacts and marks it completed (the first
    /// completion time stays); an unknown id throws ``StateStoreError/Code/notFound``.
    public func completeBackup(id: RecordID, artifactsJSON: String) async throws(StateStoreError) {
        let now = fixedNow
        let rows = try await query("""
            UPDATE backups SET artifacts = \(artifactsJSON), completed_at = COALESCE(completed_at, \(now: now)) WHERE id = \(id) RETURNING id
            """)
        guard !rows.isEmpty else { throw refusal(.notFound, "no backup \(id)") }
    }

    /// Sets the app version of a backup that is not completed; a completed
    /// one throws ``StateStoreError/Code/illegalTransition``, an unknown one ``StateStoreError/Code/notFound``.
    public func refreezeBackup(id: RecordID, appVersion: String) async throws(StateStoreError) {
        let rows = try await query("UPDATE backups SET app_version = \(appVersion) WHERE id = \(id) AND completed_at IS NULL RETURNING id")
        guard rows.isEmpty else { return }
        guard try await backup(id: id) != nil else { throw refusal(.notFound, "no backup \(id)") }
        throw refusal(.illegalTransition, "backup \(id) is completed; its app version stays")
    }

    /// Deletes backup records; unknown ids are ignored.
    public func deleteBackups(ids: [RecordID]) async throws(StateStoreError) {
        guard !ids.isEmpty else { return }
        _ = try await query("DELETE FROM backups WHERE id = ANY(\(ids)::bigint[]) RETURNING id")
    }
}
