import DriverSpec
import FlowModel
import Foundation
import Primitives
public import StateStore

extension Engine {
    /// Records a backup of `name` and its `backup` run (DESIGN.md "Backup,
    /// restore, delete"); the backup is `completed` only when the run
    /// succeeds with every component's artifacts.
    ///
    /// Throws ``EngineError/Code/notFound`` for an unknown deployment,
    /// ``EngineError/Code/conflict`` for one not installed yet or being
    /// deleted, ``EngineError/Code/refused`` when its driver backs up no
    /// component (or the Idempotency-Key names another request).
    public func requestBackup(deployment name: String, idempotencyKey: String? = nil, requestDigest: String? = nil)
        async throws(EngineError) -> (backup: BackupRecord, run: RunRecord) {
        if let idempotencyKey, let run = try await repeatedRequest(idempotencyKey, deployment: name, requestDigest: requestDigest) {
            guard run.hook == .backup, let backup = try await stored({ () async throws(StateStoreError) in try await store.backup(runID: run.id) }) else {
                throw EngineError(.refused, "Idempotency-Key \"\(idempotencyKey)\" was used for run \(run.id), a \(run.hook.rawValue) run of \(name)"
                    + (run.hook == .backup ? " whose backup was deleted since" : ""), field: "Idempotency-Key")
            }
            return (backup, run)
        }
        let deployment = try await existingDeployment(name)
        try await refuseUnlessSettled(deployment, for: "a backup", allowQueued: true)
        let driver = try await loadDriver(versionID: deployment.driverVersionID)
        guard driver.spec.components.contains(where: { BackupStrategy(of: $0) != nil }) else {
            throw EngineError(.refused, "driver \(driver.spec.name) declares no component with an enabled `backup` block; nothing to back up")
        }
        let (inputs, context) = try await hookInputs(deployment: deployment, driver: driver, extra: [:])
        return try await stored { () async throws(StateStoreError) in
            try await store.createBackup(NewBackup(deploymentID: deployment.id, appVersion: deployment.appVersion), run: NewRun(
                deploymentID: deployment.id, hook: .backup, inputsJSON: Self.json(inputs), contextJSON: Self.json(context),
                driverVersionID: driver.record.id, idempotencyKey: idempotencyKey, requestDigest: requestDigest
            ))
        }
    }

    /// Records a `restore` run putting back backup `backupID` of `name`.
    ///
    /// Refused with the reason: an unknown backup (``EngineError/Code/notFound``),
    /// a backup of another deployment or driver, one not completed, one of
    /// another app version (``EngineError/Code/refused``), and a deployment
    /// with a run queued or in progress (``EngineError/Code/conflict``).
    public func requestRestore(deployment name: String, backupID: RecordID, idempotencyKey: String? = nil, requestDigest: String? = nil)
        async throws(EngineError) -> RunRecord {
        if let idempotencyKey, let run = try await repeatedRequest(idempotencyKey, deployment: name, requestDigest: requestDigest) {
            return run
        }
        let deployment = try await existingDeployment(name)
        guard let backup = try await stored({ () async throws(StateStoreError) in try await store.backup(id: backupID) }) else {
            let known = (try? await store.backups(deployment: name).filter { $0.status == .completed }.map { String($0.id) }) ?? []
            throw EngineError(.notFound, "unknown backup \(backupID) (completed backups of \(name): \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                              field: "backup_id")
        }
        let backupDeployment = try await stored { () async throws(StateStoreError) in try await store.deployment(id: backup.deploymentID) }
        guard backup.deployment == name, backupDeployment?.driver == deployment.driver else {
            throw EngineError(.refused, "backup \(backupID) is of deployment \(backup.deployment)"
                + (backupDeployment.map { " (driver \($0.driver))" } ?? "") + ", not of \(name); a deployment is restored from its own backups",
                field: "backup_id")
        }
        guard backup.status == .completed, let artifacts = backup.artifactsJSON.flatMap(JSONValue.init(storedText:)) else {
            throw EngineError(.refused, "backup \(backupID) is \(backup.status.rawValue), not completed"
                + (backup.runID.map { " (run \($0))" } ?? "") + "; only a completed backup can be restored", field: "backup_id")
        }
        if let mismatch = Self.versionMismatch(backup, deployment) { throw EngineError(.refused, mismatch, field: "backup_id") }
        try await refuseUnlessSettled(deployment, for: "a restore", allowQueued: false)
        let driver = try await loadDriver(versionID: deployment.driverVersionID)
        if let gap = Self.coverageGap(backup, artifacts: artifacts, spec: driver.spec, driverVersion: driver.record.number) {
            throw EngineError(.refused, gap, field: "backup_id")
        }
        let restorable = artifacts.objectValue?.compactMapValues { $0["artifacts"] } ?? [:]
        let (inputs, context) = try await hookInputs(deployment: deployment, driver: driver, extra: [
            "backup_id": .int(Int(backupID)), "artifacts": .object(restorable),
        ])
        return try await stored { () async throws(StateStoreError) in
            var new = NewRun(
                deploymentID: deployment.id, hook: .restore, inputsJSON: Self.json(inputs), contextJSON: Self.json(context),
                driverVersionID: driver.record.id, idempotencyKey: idempotencyKey, requestDigest: requestDigest
            )
            new.exclusive = true
            return try await store.createRun(new).record
        }
    }

    /// Records a `delete` run of `name`: when it succeeds the deployment
    /// is gone from the deployment list (its runs stay readable) and, with
    /// `purgeBackups`, its backups too. Refused (``EngineError/Code/conflict``)
    /// while a run of the deployment is queued or in progress.
    public func requestDelete(deployment name: String, purgeBackups: Bool = false, idempotencyKey: String? = nil, requestDigest: String? = nil)
        async throws(EngineError) -> RunRecord {
        if let idempotencyKey, let run = try await repeatedRequest(idempotencyKey, deployment: name, requestDigest: requestDigest) {
            return run
        }
        let deployment = try await existingDeployment(name)
        try await refuseUnlessSettled(deployment, for: "a delete", allowQueued: false, needsInstall: false)
        let driver = try await loadDriver(versionID: deployment.driverVersionID)
        let (inputs, context) = try await hookInputs(deployment: deployment, driver: driver, extra: ["purge_backups": .bool(purgeBackups)])
        return try await stored { () async throws(StateStoreError) in
            var new = NewRun(
                deploymentID: deployment.id, hook: .delete, inputsJSON: Self.json(inputs), contextJSON: Self.json(context),
                driverVersionID: driver.record.id, idempotencyKey: idempotencyKey, requestDigest: requestDigest
            )
            new.exclusive = true
            return try await store.createRun(new).record
        }
    }

    // MARK: Helpers

    /// The run an earlier request with `key` made for the deployment called
    /// `name` (the one that exists now, or, when none does, the deleted one
    /// that used the key: a delete repeated after it succeeded).
    func repeatedRequest(_ key: String, deployment name: String, requestDigest: String?) async throws(EngineError) -> RunRecord? {
        let current = try await stored { () async throws(StateStoreError) in try await store.deployment(named: name) }
        return try await runWithKey(key, deployment: name, id: current?.id, requestDigest: requestDigest)
    }

    /// Why `backup` cannot go back into `deployment` as it runs now, if it cannot.
    static func versionMismatch(_ backup: BackupRecord, _ deployment: DeploymentRecord) -> String? {
        guard backup.appVersion != deployment.appVersion else { return nil }
        return "backup \(backup.id) was taken at app version \(backup.appVersion), deployment \(deployment.name) runs \(deployment.appVersion); "
            + "its data may not fit this version: first bring the deployment to \(backup.appVersion) (flowrunner upgrade \(deployment.name) --to \(backup.appVersion))"
    }

    /// What the driver version the deployment runs now would restore that
    /// the backup did not keep (a component added, or backed up another
    /// way since), or keeps that it no longer declares; nil when they fit.
    static func coverageGap(_ backup: BackupRecord, artifacts: JSONValue, spec: DriverSpecification, driverVersion: Int) -> String? {
        let kept = artifacts.objectValue ?? [:]
        var problems: [String] = []
        for component in spec.components {
            guard let strategy = BackupStrategy(of: component) else { continue }
            let recorded = kept[component.name]?["strategy"]?.stringValue
            if recorded != strategy.rawValue {
                problems.append("component \(component.name) is backed up by \(strategy.rawValue) now, but the backup kept "
                    + (recorded.map { "its \($0) data" } ?? "nothing of it"))
            }
        }
        let declared = Set(spec.components.compactMap { BackupStrategy(of: $0) == nil ? nil : $0.name })
        for name in kept.keys.sorted() where !declared.contains(name) {
            problems.append("the backup kept component \(name), which driver version \(driverVersion) does not back up")
        }
        guard let first = problems.first else { return nil }
        return "backup \(backup.id) does not fit driver \(spec.name) version \(driverVersion), which deployment \(backup.deployment) runs: \(first)"
            + (problems.count > 1 ? " (and \(problems.count - 1) more)" : "")
    }

    /// The deployment called `name`, or ``EngineError/Code/notFound`` listing the others.
    func existingDeployment(_ name: String) async throws(EngineError) -> DeploymentRecord {
        if let deployment = try await stored({ () async throws(StateStoreError) in try await store.deployment(named: name) }) {
            return deployment
        }
        let known = (try? await store.deployments().map(\.name)) ?? []
        throw EngineError(.notFound, "unknown deployment \"\(name)\" (\(known.isEmpty ? "there are no deployments" : "deployments: " + known.joined(separator: ", ")))")
    }

    /// Refuses `what` while the deployment is not installed (when
    /// `needsInstall`), is being deleted, or (unless `allowQueued`, where
    /// the new run waits its turn) has a run queued or in progress.
    func refuseUnlessSettled(_ deployment: DeploymentRecord, for what: String, allowQueued: Bool, needsInstall: Bool = true) async throws(EngineError) {
        let name = deployment.name
        try await refuseBehindAbandonedRun(deployment: name)
        let unfinished = try await stored { () async throws(StateStoreError) in
            var runs: [RunRecord] = []
            for status in [RunStatus.queued, .running, .cancelling] {
                runs += try await store.runs(matching: RunFilter(deployment: name, status: status, limit: 10))
            }
            return runs.filter { $0.deploymentID == deployment.id }.sorted { $0.id < $1.id }
        }
        if let deleting = unfinished.first(where: { $0.hook == .delete }) {
            throw EngineError(.conflict, "deployment \(name) is being deleted by run \(deleting.id); \(what) cannot follow it")
        }
        if needsInstall, let setup = try await failedSetup(of: deployment) {
            throw EngineError(.conflict, "deployment \(name) is not installed (its setup run \(setup.id) \(setup.status.rawValue)); \(what) needs an installed "
                + "deployment: retry the setup (flowrunner runs retry \(setup.id)) or delete it")
        }
        if !allowQueued, let busy = unfinished.first {
            throw EngineError(.conflict, "deployment \(name) has run \(busy.id) (\(busy.hook.rawValue), \(busy.status.rawValue)) queued or in progress; "
                + "request \(what) when it has ended (flowrunner runs show \(busy.id)), or cancel it (flowrunner runs cancel \(busy.id))")
        }
    }

    /// The newest setup run of the deployment when none of its setup runs
    /// succeeded and none is still to run (its install failed or was
    /// cancelled); nil for an installed deployment, one whose setup is still
    /// queued or running, and one adopted without a setup run.
    func failedSetup(of deployment: DeploymentRecord) async throws(EngineError) -> RunRecord? {
        let runs = try await stored { () async throws(StateStoreError) in
            try await store.runs(matching: RunFilter(deployment: deployment.name, limit: 1_000))
        }
        let setups = runs.filter { $0.deploymentID == deployment.id && $0.hook == .setup }
        guard let newest = setups.first, setups.allSatisfy({ $0.status == .failed || $0.status == .cancelled }) else { return nil }
        return newest
    }

    /// The inputs (`current_version`, `parameters`, and `extra`) and the
    /// GlobalContext of a backup, restore or delete of `deployment` as it is now.
    func hookInputs(deployment: DeploymentRecord, driver: LoadedDriverVersion, extra: [String: JSONValue])
        async throws(EngineError) -> (inputs: JSONValue, context: JSONValue) {
        let parameters = Self.object(deployment.parametersJSON)
        let context = GlobalContextBuilder(
            spec: driver.spec, deployment: deployment.name, driverVersion: driver.record.number, appVersion: deployment.appVersion,
            previousVersion: nil, parameters: parameters, config: Self.object(deployment.configJSON),
            clusterName: deployment.cluster, clusterConfig: try await clusterConfiguration(deployment.cluster),
            inputs: ComponentInputs(storedText: deployment.componentsJSON)
        ).build()
        var inputs: [String: JSONValue] = [
            "current_version": deployment.appVersion.isEmpty ? .null : .string(deployment.appVersion), "parameters": .object(parameters),
        ]
        inputs.merge(extra) { _, new in new }
        return (.object(inputs), context)
    }
}
