import FlowModel
import Foundation

extension InMemoryStateStore {
    // MARK: Deleted deployments and backups

    /// Marks a deployment deleted; again is a no-op.
    public func markDeploymentDeleted(id: RecordID) async throws(StateStoreError) {
        let now = clock.now.asStored
        guard tables.deployments.update(id, { $0.deletedAt = $0.deletedAt ?? now; $0.updatedAt = now }) != nil else {
            throw failure(.notFound, "no deployment with id \(id)")
        }
    }

    /// Records a backup and creates its run, as one change.
    public func createBackup(_ new: NewBackup, run: NewRun) async throws(StateStoreError) -> (backup: BackupRecord, run: RunRecord) {
        guard tables.deployments[new.deploymentID] != nil else { throw missingReference("deployment \(new.deploymentID)") }
        let (record, created) = try await createRun(run)
        if !created {
            guard let backup = tables.backups.rows.first(where: { $0.runID == record.id }).flatMap(backupRecord) else {
                throw failure(.alreadyExists, "idempotency key \"\(run.idempotencyKey ?? "")\" of deployment \(run.deploymentID) names run \(record.id), a \(record.hook.rawValue) run, not a backup")
            }
            return (backup, record)
        }
        let id = max(tables.nextBackupID, tables.backups.nextID)
        tables.nextBackupID = id + 1
        if case .object(var inputs) = (try? JSONValue(jsonText: record.inputsJSON)) ?? .null {
            inputs["backup_id"] = .int(Int(id))
            tables.runs.update(record.id) { $0.inputsJSON = JSONValue.object(inputs).jsonText }
        }
        let row = BackupRow(id: id, deploymentID: new.deploymentID, runID: record.id, appVersion: new.appVersion,
                            createdAt: clock.now.asStored.storedValue, completedAt: nil, artifactsJSON: nil)
        tables.backups.insert { _ in row }
        guard let backup = backupRecord(row) else { throw failure(.notFound, "no deployment with id \(new.deploymentID)") }
        return (backup, try existingRun(record.id))
    }

    /// The backup with this id, or nil.
    public func backup(id: RecordID) async throws(StateStoreError) -> BackupRecord? {
        tables.backups[id].flatMap(backupRecord)
    }

    /// The backup of a backup run, or nil.
    public func backup(runID: RecordID) async throws(StateStoreError) -> BackupRecord? {
        tables.backups.rows.first { $0.runID == runID }.flatMap(backupRecord)
    }

    /// The backups of the deployments called `deployment`, or of all, newest first.
    public func backups(deployment: String?) async throws(StateStoreError) -> [BackupRecord] {
        tables.backups.rows.reversed().compactMap(backupRecord).filter { backup in
            deployment.map { StoredText.same(backup.deployment, $0) } ?? true
        }
    }

    /// Records a backup's artifacts and marks it completed.
    public func completeBackup(id: RecordID, artifactsJSON: String) async throws(StateStoreError) {
        let now = clock.now.asStored.storedValue
        guard tables.backups.update(id, { $0.artifactsJSON = artifactsJSON; $0.completedAt = $0.completedAt ?? now }) != nil else {
            throw failure(.notFound, "no backup \(id)")
        }
    }

    /// Sets the app version of a backup not completed yet.
    public func refreezeBackup(id: RecordID, appVersion: String) async throws(StateStoreError) {
        guard let row = tables.backups[id] else { throw failure(.notFound, "no backup \(id)") }
        guard row.completedAt == nil else { throw failure(.illegalTransition, "backup \(id) is completed; its app version stays") }
        tables.backups.update(id) { $0.appVersion = appVersion }
    }

    /// Deletes backup records.
    public func deleteBackups(ids: [RecordID]) async throws(StateStoreError) {
        let doomed = Set(ids)
        tables.backups.removeAll { doomed.contains($0.id) }
    }

    func backupRecord(_ row: BackupRow) -> BackupRecord? {
        guard let deployment = tables.deployments[row.deploymentID] else { return nil }
        return BackupRecord(
            id: row.id, deploymentID: row.deploymentID, deployment: deployment.name, runID: row.runID,
            runStatus: row.runID.flatMap { tables.runs[$0]?.status }, appVersion: row.appVersion,
            createdAt: Date(storedValue: row.createdAt), completedAt: row.completedAt.map(Date.init(storedValue:)),
            artifactsJSON: row.artifactsJSON
        )
    }
}
