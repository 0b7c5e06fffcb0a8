import ActionHost
public import DriverSpec
public import FlowModel
public import FlowRunner
import Foundation
public import StateStore

/// A hook run against a throwaway cluster (`dry-run`): the driver is stored
/// in a scratch store, a deployment is set up (or, for an upgrade, adopted at
/// the installed version and installed on the cluster), the hook runs with
/// the real actions, and the cluster is captured before and after.
///
/// The scheduler's engine must be over a scratch store and a provider of a
/// throwaway cluster named `cluster`; nothing else is touched.
public struct DryRun: Sendable {
    /// What a dry-run did.
    public struct Result: Sendable {
        /// The run's report.
        public var report: RunReport
        /// The plan by mode, built-in core included.
        public var plan: HookPlan
        /// The cluster's view (JSON object text) before and after the hook.
        public var clusterBefore: String
        public var clusterAfter: String
        /// The run's log lines.
        public var logs: [LogRecord]
        /// The Helm values the hook applies (`values.j2.yml` rendered with the
        /// run's GlobalContext), and for an upgrade those at the installed
        /// version; nil without a template. `valuesError` says why they are missing.
        public var values: JSONValue? = nil
        public var valuesBefore: JSONValue? = nil
        public var valuesError: String? = nil

        /// The final run.
        public var run: RunRecord { report.run }

        /// `runs show --output json`'s shape plus `cluster_before`,
        /// `cluster_after`, `plan` (`[{"mode", "actions"}]`), `logs`,
        /// `values` and `values_before` (null without a template or before a setup).
        public var json: JSONValue {
            guard case .object(var members) = report.json else { return report.json }
            members["values"] = values ?? .null
            members["values_before"] = valuesBefore ?? .null
            if let valuesError { members["values_error"] = .string(valuesError) }
            members["cluster_before"] = JSONValue(storedText: clusterBefore) ?? .null
            members["cluster_after"] = JSONValue(storedText: clusterAfter) ?? .null
            members["plan"] = .array(DryRun.planByMode(plan).map { .object(["mode": .string($0.mode), "actions": .array($0.actions.map(JSONValue.string))]) })
            members["logs"] = .array(logs.map { line in
                .object(["action": line.action.map(JSONValue.string) ?? .null, "attempt": .int(line.attempt),
                         "level": .string(line.level.rawValue), "logger": .string(line.logger), "message": .string(line.message),
                         "time": RunReport.time(line.time)])
            })
            return .object(members)
        }
    }

    /// Works the run.
    public let scheduler: Scheduler
    /// The throwaway cluster's name.
    public let cluster: String
    /// The deployment name used.
    public var deploymentName = "dry-run"

    /// A dry-run worked by `scheduler` on `cluster`.
    public init(scheduler: Scheduler, cluster: String) {
        self.scheduler = scheduler
        self.cluster = cluster
    }

    /// The plan by mode for showing: each mode with its action names (`(built-in)` marks the built-in core).
    public static func planByMode(_ plan: HookPlan) -> [(mode: String, actions: [String])] {
        ActionMode.allCases.map { mode in
            (mode.rawValue, plan.entries.filter { $0.mode == mode }.map { $0.action == nil ? $0.name + " (built-in)" : $0.name })
        }
    }

    /// Prepares the deployment and its run. `installedVersion` is the version
    /// before an upgrade (ignored for setup). Throws ``EngineError`` for a
    /// refused request or a cluster that cannot be set up.
    public func prepare(
        driver: LoadedDriver, directory: String, hook: Hook, targetVersion: String, installedVersion: String,
        parameters: [String: ParameterInput]
    ) async throws(EngineError) -> (run: RunRecord, plan: HookPlan, clusterBefore: String) {
        let engine = scheduler.engine
        let stored = try await DriverCatalog(store: engine.store).store(driver, directory: directory)
        guard let spec = driver.specification else { throw EngineError(.failed, "\(directory): no driver specification") }
        let run: RunRecord
        switch hook {
        case .setup:
            run = try await engine.requestSetup(
                deployment: deploymentName, driver: spec.name, appVersion: targetVersion, cluster: cluster, parameters: parameters
            ).run
        case .upgrade, .backup, .restore, .delete:
            _ = try await engine.adoptDeployment(
                name: deploymentName, driverVersionID: stored.record.id, appVersion: installedVersion, cluster: cluster, parameters: parameters
            )
            do {
                let backend = try await engine.clusters.backend(cluster: cluster, deployment: deploymentName)
                try await backend.install(spec: spec, version: installedVersion, values: nil)
                try await backend.commit()
            } catch {
                throw EngineError(.failed, "cannot set up the cluster for the dry-run: \(error.message)")
            }
            switch hook {
            case .backup: run = try await engine.requestBackup(deployment: deploymentName).run
            case .restore: run = try await restoreOfFreshBackup()
            case .delete: run = try await engine.requestDelete(deployment: deploymentName)
            default: run = try await engine.requestUpgrade(deployment: deploymentName, targetVersion: targetVersion)
            }
        }
        return (run, HookPlan(spec: spec, hook: hook, inputs: JSONValue(storedText: run.inputsJSON) ?? .null), await snapshot() ?? "{}")
    }

    /// A restore dry-run restores a backup taken first (its run is not shown).
    func restoreOfFreshBackup() async throws(EngineError) -> RunRecord {
        let backup = try await scheduler.engine.requestBackup(deployment: deploymentName)
        let ended = try await scheduler.work(runID: backup.run.id, observer: nil)
        guard ended.status == .succeeded else {
            throw EngineError(.failed, "the backup a restore dry-run restores failed: \(ended.errorJSON ?? "no reason recorded")")
        }
        return try await scheduler.engine.requestRestore(deployment: deploymentName, backupID: backup.backup.id)
    }

    /// Works the prepared run and collects what it did.
    public func execute(run: RunRecord, plan: HookPlan, clusterBefore: String, observer: (any RunObserver)?) async throws(EngineError) -> Result {
        let final = try await scheduler.work(runID: run.id, observer: observer)
        let store = scheduler.engine.store
        let report: RunReport?
        let logs: [LogRecord]
        do {
            report = try await RunReport.load(runID: final.id, from: store)
            logs = try await store.logs(runID: final.id, afterID: 0, limit: 100_000)
        } catch {
            throw EngineError(storeError: error)
        }
        guard let report else { throw EngineError(.failed, "run \(final.id) vanished from the scratch store") }
        return Result(report: report, plan: plan, clusterBefore: Self.maskedCluster(clusterBefore, report.masking),
                      clusterAfter: Self.maskedCluster(await snapshot() ?? clusterBefore, report.masking), logs: logs)
    }

    /// Renders the driver's `values.j2.yml` with the run's GlobalContext and,
    /// for an upgrade, with the context at `installedVersion`; sets them on `result`.
    public func renderValues(
        into result: inout Result, driver: LoadedDriver, hook: Hook, installedVersion: String,
        parameters: [String: ParameterInput]
    ) async {
        guard let template = HelmValues.template(of: driver.snapshot), let spec = driver.specification,
              let context = JSONValue(storedText: result.run.contextJSON) else { return }
        // Secret parameters are shown as *** in the values too, as everywhere else in the report.
        let masking = result.report.masking
        let renderer = scheduler.engine.configuration.valuesRenderer ?? HelmValues.Renderer()
        do {
            switch try await renderer.render(template, context: context) {
            case .success(let rendered): result.values = masking.value(rendered.values)
            case .failure(let failure): result.valuesError = failure.diagnostic.description
            }
            guard hook == .upgrade else { return }
            let before = try HelmValues.context(spec: spec, deployment: deploymentName, appVersion: installedVersion,
                                                parameters: parameters, config: [:], cluster: cluster)
            switch try await renderer.render(template, context: before) {
            case .success(let rendered): result.valuesBefore = masking.value(rendered.values)
            case .failure(let failure): result.valuesError = "at \(installedVersion): \(failure.diagnostic.description)"
            }
        } catch {
            result.valuesError = error.message
        }
    }

    /// A cluster snapshot masked as ``SecretMasking/cluster(_:)`` masks one (all but the jobs it ran).
    static func maskedCluster(_ snapshot: String, _ masking: SecretMasking) -> String {
        JSONValue(storedText: snapshot).map { masking.cluster($0).jsonText } ?? snapshot
    }

    func snapshot() async -> String? {
        try? await scheduler.engine.clusters.backend(cluster: cluster, deployment: deploymentName).snapshot()
    }
}
