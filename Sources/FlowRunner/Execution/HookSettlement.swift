import FlowModel
import Primitives
import StateStore

/// What a hook's run records besides its own status: the deployment's new
/// app version (setup, upgrade), the backup's artifacts (backup), the
/// deployment's end (delete). Written before the run is marked succeeded,
/// so a crash in between replays the run and writes the same again.
extension RunAttempt {
    func settleHook(inputs: JSONValue) async throws(EngineError) {
        switch hook {
        case .setup, .upgrade:
            let targetVersion = inputs["target_version"]?.stringValue ?? deployment.appVersion
            try await stored { () async throws(StateStoreError) in
                try await store.updateDeployment(id: deployment.id, appVersion: targetVersion, driverVersionID: run.driverVersionID, parametersJSON: nil)
            }
        case .backup:
            guard case .int(let id) = inputs["backup_id"] ?? .null else {
                throw EngineError(.failed, "backup run \(run.id) has no backup record")
            }
            let artifacts = try await backupArtifacts()
            try await stored { () async throws(StateStoreError) in
                try await store.completeBackup(id: RecordID(id), artifactsJSON: artifacts.jsonText)
            }
        case .restore:
            break
        case .delete:
            try await stored { () async throws(StateStoreError) in
                if inputs["purge_backups"]?.boolValue == true {
                    // The completed ones' artifacts went in builtin-purge-backups; those that never completed kept nothing.
                    try await store.deleteBackups(ids: try await store.backups(deployment: deployment.name).map(\.id))
                }
                try await store.markDeploymentDeleted(id: deployment.id)
            }
        }
    }

    /// Per component backed up, its strategy and artifacts:
    /// `{COMPONENT: {"strategy": KIND, "artifacts": [...]}}`, from the
    /// results of `builtin-backup`'s steps; a `kind: action` component names
    /// the driver's core backup action instead.
    func backupArtifacts() async throws(EngineError) -> JSONValue {
        var components: [String: JSONValue] = [:]
        let actionRuns = try await stored { () async throws(StateStoreError) in try await store.actionRuns(runID: run.id) }
        if let builtIn = actionRuns.first(where: { $0.name == "builtin-backup" }) {
            let steps = try await stored { () async throws(StateStoreError) in try await store.steps(actionRunID: builtIn.id) }
            for step in steps where step.name == "backup_component" && (step.status == .succeeded || step.status == .replayed) {
                guard let result = step.resultJSON.flatMap(JSONValue.init(storedText:)), let component = result["component"]?.stringValue else { continue }
                components[component] = ["strategy": result["strategy"] ?? .null, "artifacts": result["artifacts"] ?? .array([])]
            }
        }
        // The driver's backup actions, core first: whichever of them backs a kind action component up.
        let actions = ActionMode.allCases.sorted { ($0 == .core ? 0 : 1, $0) < ($1 == .core ? 0 : 1, $1) }
            .flatMap { spec.actions(for: .backup, mode: $0) }.map(\.name)
        for component in spec.components where BackupStrategy(of: component) == .action {
            components[component.name] = [
                "strategy": "action", "action": actions.first.map(JSONValue.string) ?? .null,
                "actions": .array(actions.map(JSONValue.string)), "artifacts": .array([]),
            ]
        }
        return .object(components)
    }
}
