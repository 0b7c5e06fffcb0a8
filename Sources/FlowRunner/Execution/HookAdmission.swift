import DriverSpec
import FlowModel
import Primitives
import StateStore

/// What a backup, restore or delete run checks when an attempt starts, as
/// its request was checked: the deployment may have changed while the run
/// waited in the queue or between a failure and its retry.
extension Engine {
    /// The run as it starts (a backup that waited behind a version change
    /// is taken at the version the deployment runs now), or why it cannot
    /// start: a backup whose earlier attempt copied data at another version,
    /// a restore whose backup no longer fits, a deployment not installed.
    func admitAttempt(_ run: RunRecord, deployment: DeploymentRecord, driver: LoadedDriverVersion) async throws(EngineError) -> (run: RunRecord, problem: String?) {
        switch run.hook {
        case .setup, .upgrade, .delete:
            return (run, nil)
        case .backup, .restore:
            if let setup = try await failedSetup(of: deployment) {
                return (run, "deployment \(deployment.name) is not installed (its setup run \(setup.id) \(setup.status.rawValue))")
            }
        }
        guard case .int(let id) = JSONValue(storedText: run.inputsJSON)?["backup_id"] ?? .null,
              let backup = try await stored({ () async throws(StateStoreError) in try await store.backup(id: RecordID(id)) }) else {
            return (run, "the backup of run \(run.id) is no longer recorded (it was purged)")
        }
        if run.hook == .restore {
            if backup.status != .completed { return (run, "backup \(backup.id) is \(backup.status.rawValue), not completed") }
            return (run, Self.versionMismatch(backup, deployment))
        }
        guard backup.appVersion != deployment.appVersion else { return (run, nil) }
        let started = try await stored { () async throws(StateStoreError) in try await store.actionRuns(runID: run.id) }
        guard started.isEmpty, run.attempt == 1 else {
            return (run, "deployment \(deployment.name) went from \(backup.appVersion) to \(deployment.appVersion) since backup \(backup.id) began; "
                + "its earlier attempt copied data of \(backup.appVersion), so it cannot be completed at \(deployment.appVersion): request a new backup")
        }
        // It waited in the queue behind a version change: it is a backup of the version the deployment runs now.
        let (inputs, context) = try await hookInputs(deployment: deployment, driver: driver, extra: ["backup_id": .int(id)])
        let refrozen = try await stored { () async throws(StateStoreError) in
            try await store.refreezeBackup(id: backup.id, appVersion: deployment.appVersion)
            return try await store.refreezeRun(id: run.id, inputsJSON: Self.json(inputs), contextJSON: Self.json(context))
        }
        return (refrozen, nil)
    }

    /// The inputs an attempt works with: the stored ones, and for a delete
    /// that purges backups, every completed backup of the deployment's name
    /// as it stands now (`purge`: `[{"id", "artifacts"}]`; a backup taken
    /// after an earlier attempt failed is purged too).
    func attemptInputs(_ run: RunRecord, deployment: DeploymentRecord) async throws(EngineError) -> JSONValue {
        guard case .object(var inputs) = JSONValue(storedText: run.inputsJSON) ?? .object([:]) else { return .object([:]) }
        if run.hook == .delete, inputs["purge_backups"]?.boolValue == true {
            let backups = try await stored { () async throws(StateStoreError) in try await store.backups(deployment: deployment.name) }
            inputs["purge"] = .array(backups.filter { $0.status == .completed }.map { backup in
                let artifacts = backup.artifactsJSON.flatMap(JSONValue.init(storedText:))?.objectValue?.values
                    .flatMap { $0["artifacts"]?.arrayValue ?? [] } ?? []
                return ["id": .int(Int(backup.id)), "artifacts": .array(artifacts)]
            })
        }
        return .object(inputs)
    }
}
