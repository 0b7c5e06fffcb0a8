import ActionHost
public import FlowModel
public import Primitives
public import StateStore

/// Everything shown about a deployment, in the shape of `deployments show
/// --output json` and `GET /v1/deployments/{name}`: `{"name", "driver",
/// "driver_version", "driver_digest", "app_version", "parameters", "config",
/// "components" (the operator's inputs, ``ComponentInputs``),
/// "created_at", "updated_at", "cluster": {"name", "app_version",
/// "workloads", "jobs", "releases": [{"revision", "app_version", "values",
/// "applied_at"}]} | null, "runs": [run summary], "backups": [backup]}`
/// (``BackupReport``; the list of deployments has the same members without
/// `cluster`, `runs` and `backups`).
public struct DeploymentReport: Sendable {
    /// The deployment.
    public var deployment: DeploymentRecord
    /// Its pinned driver version, when stored.
    public var driver: DriverVersionRecord?
    /// What its cluster holds for it (JSON object text), when the cluster could be read.
    public var clusterSnapshot: String?
    /// Its newest runs, newest first.
    public var runs: [RunRecord]
    /// Its newest backups, newest first.
    public var backups: [BackupRecord] = []
    /// The parameters its driver declares secret, shown as `***`.
    public var secrets = SecretParameters()
    /// Why the cluster's view is missing (unreachable, refused, too slow), when it is.
    public var clusterError: String?

    /// How long a report waits for the cluster's view.
    public static let clusterViewDeadline: Duration = .seconds(10)

    /// The cluster's view of `deployment`, or why there is none: at most
    /// ``clusterViewDeadline``, so a cluster that does not answer slows a report, never hangs it.
    static func clusterView(of deployment: DeploymentRecord, clusters: any ClusterProvider) async -> (snapshot: String?, error: String?) {
        await withTaskGroup(of: (snapshot: String?, error: String?)?.self) { group in
            group.addTask {
                do throws(ClusterError) {
                    return (try await clusters.backend(cluster: deployment.cluster, deployment: deployment.name).snapshot(), nil)
                } catch {
                    return (nil, error.message)
                }
            }
            group.addTask {
                try? await Task.sleep(for: clusterViewDeadline)
                return Task.isCancelled ? nil : (nil, "cluster \(deployment.cluster) did not answer within \(clusterViewDeadline.components.seconds) s")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? (nil, "cluster \(deployment.cluster) could not be read")
        }
    }

    /// The report of the deployment called `name` (nil when there is none),
    /// with up to `runLimit` recent runs and, when `clusters` serves its
    /// cluster, the cluster's view of it.
    public static func load(
        named name: String, store: any StateStore, clusters: any ClusterProvider, runLimit: Int = 10
    ) async throws(EngineError) -> DeploymentReport? {
        do {
            guard let deployment = try await store.deployment(named: name) else { return nil }
            let driver = try await store.driverVersion(id: deployment.driverVersionID)
            // Runs belong to the deployment: not those of a deleted one of the same name.
            let runs = Array(try await store.runs(matching: RunFilter(deployment: name, limit: runLimit * 5)).filter { $0.deploymentID == deployment.id }.prefix(runLimit))
            let view = await Self.clusterView(of: deployment, clusters: clusters)
            var secrets = try await SecretParameters.load(versionID: deployment.driverVersionID, from: store)
            secrets.configKeys = Set(deployment.secretConfigKeys)
            var report = DeploymentReport(deployment: deployment, driver: driver, clusterSnapshot: view.snapshot, runs: runs, secrets: secrets)
            report.clusterError = view.error
            // Backups belong to the name: a deployment made again after a delete restores those of its predecessor.
            report.backups = Array(try await store.backups(deployment: name).prefix(runLimit))
            return report
        } catch {
            throw EngineError(storeError: error)
        }
    }

    /// The members a list of deployments shows for each.
    public static func summary(_ deployment: DeploymentRecord, driver: DriverVersionRecord?, secrets: SecretParameters = SecretParameters()) -> JSONValue {
        .object([
            "name": .string(deployment.name), "driver": .string(deployment.driver),
            "driver_version": driver.map { .int($0.number) } ?? .null,
            "driver_digest": driver.map { .string($0.digest) } ?? .null,
            "app_version": .string(deployment.appVersion),
            "parameters": secrets.masked(parameters: JSONValue(storedText: deployment.parametersJSON) ?? .object([:])),
            "config": SecretParameters(configKeys: Set(deployment.secretConfigKeys)).masked(config: JSONValue(storedText: deployment.configJSON) ?? .object([:])),
            "components": ComponentInputs(storedText: deployment.componentsJSON).json,
            "cluster_name": .string(deployment.cluster),
            "created_at": RunReport.time(deployment.createdAt), "updated_at": RunReport.time(deployment.updatedAt),
        ])
    }

    /// The cluster's view with its name, or null. The values of its
    /// `releases` (the chart's history, DESIGN.md "Helm values") show
    /// secret parameter and config values as `***`.
    public var cluster: JSONValue {
        guard case .object(var members)? = JSONValue(storedText: clusterSnapshot) else { return .null }
        members["name"] = .string(deployment.cluster)
        let parameters = JSONValue.object(["parameters": JSONValue(storedText: deployment.parametersJSON) ?? .object([:])])
        return SecretMasking(secrets: secrets, inputsJSON: parameters.jsonText, configJSON: deployment.configJSON).cluster(.object(members))
    }

    /// The report as JSON.
    public var json: JSONValue {
        guard case .object(var members) = Self.summary(deployment, driver: driver, secrets: secrets) else { return .null }
        members["cluster"] = cluster
        if let clusterError { members["cluster_error"] = .string(clusterError) }
        members["runs"] = .array(runs.map(RunSummary.json))
        members["backups"] = .array(backups.map(BackupReport.json))
        return .object(members)
    }
}
