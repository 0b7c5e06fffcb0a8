import Foundation

extension InMemoryStateStore {
    // MARK: Deployments

    /// Creates a deployment; a taken name throws ``StateStoreError/Code/alreadyExists``,
    /// an unknown driver version ``StateStoreError/Code/database`` (as SQLite's
    /// foreign key does).
    public func createDeployment(_ new: NewDeployment) async throws(StateStoreError) -> DeploymentRecord {
        let now = clock.now.asStored
        if tables.deployments.rows.contains(where: { $0.deletedAt == nil && StoredText.same($0.name, new.name) }) {
            throw failure(.alreadyExists, "a deployment named \"\(new.name)\" already exists")
        }
        guard tables.driverVersions[new.driverVersionID] != nil else {
            throw missingReference("driver version \(new.driverVersionID)")
        }
        return tables.deployments.insert { id in
            DeploymentRecord(
                id: id, name: new.name, driver: new.driver, driverVersionID: new.driverVersionID,
                appVersion: new.appVersion, parametersJSON: new.parametersJSON, configJSON: new.configJSON, cluster: new.cluster,
                createdAt: now, updatedAt: now, secretConfigKeys: new.secretConfigKeys, componentsJSON: new.componentsJSON
            )
        }
    }

    /// Replaces a deployment's component inputs; an unknown id throws ``StateStoreError/Code/notFound``.
    public func setDeploymentComponents(id: RecordID, componentsJSON: String) async throws(StateStoreError) {
        let now = clock.now.asStored
        guard tables.deployments.update(id, { $0.componentsJSON = componentsJSON; $0.updatedAt = now }) != nil else {
            throw failure(.notFound, "no deployment \(id)")
        }
    }

    /// The deployment called `name`, or nil.
    public func deployment(named name: String) async throws(StateStoreError) -> DeploymentRecord? {
        tables.deployments.rows.first { $0.deletedAt == nil && StoredText.same($0.name, name) }
    }

    /// The deployment with this id, or nil.
    public func deployment(id: RecordID) async throws(StateStoreError) -> DeploymentRecord? {
        tables.deployments[id]
    }

    /// Every deployment, by name.
    public func deployments() async throws(StateStoreError) -> [DeploymentRecord] {
        tables.deployments.rows.filter { $0.deletedAt == nil }.sorted { StoredText.precedes($0.name, $1.name) }
    }

    /// Changes what is not nil of a deployment and stamps `updatedAt` (even
    /// when everything is nil). An unknown id throws
    /// ``StateStoreError/Code/notFound``; an unknown driver version
    /// ``StateStoreError/Code/database`` (as SQLite's foreign key does).
    public func updateDeployment(
        id: RecordID, appVersion: String? = nil, driverVersionID: RecordID? = nil, parametersJSON: String? = nil
    ) async throws(StateStoreError) {
        let now = clock.now.asStored
        guard tables.deployments[id] != nil else {
            throw failure(.notFound, "no deployment with id \(id)")
        }
        if let driverVersionID, tables.driverVersions[driverVersionID] == nil {
            throw missingReference("driver version \(driverVersionID)")
        }
        tables.deployments.update(id) { deployment in
            if let appVersion { deployment.appVersion = appVersion }
            if let driverVersionID { deployment.driverVersionID = driverVersionID }
            if let parametersJSON { deployment.parametersJSON = parametersJSON }
            deployment.updatedAt = now
        }
    }

    // MARK: Simulated clusters

    /// The saved state of a deployment's simulated cluster, or nil.
    public func simulatedClusterState(deployment: String) async throws(StateStoreError) -> String? {
        tables.simulatedClusters[StoredText(deployment)]
    }

    /// The simulated cluster's jobs of a deployment (opaque JSON each), oldest first.
    public func simulatedJobs(deployment: String) async throws(StateStoreError) -> [String] {
        (tables.simulatedJobs[StoredText(deployment)] ?? []).map(\.json)
    }

    /// Replaces the state and, in the same step, deletes `deleteJobs` and then
    /// upserts `upsertJobs` by name: a new job goes after the deployment's
    /// last one, a known job keeps its place and gets the new JSON.
    public func saveSimulatedClusterState(
        deployment: String, stateJSON: String, upsertJobs: [(name: String, json: String)] = [], deleteJobs: [String] = []
    ) async throws(StateStoreError) {
        let key = StoredText(deployment)
        tables.simulatedClusters[key] = stateJSON
        var jobs = tables.simulatedJobs[key] ?? []
        for name in deleteJobs {
            jobs.removeAll { StoredText.same($0.name, name) }
        }
        for job in upsertJobs {
            if let index = jobs.firstIndex(where: { StoredText.same($0.name, job.name) }) {
                jobs[index].json = job.json
            } else {
                // Jobs stay in position order, so the last one has the largest position.
                jobs.append(SimulatedJobRow(name: job.name, position: (jobs.last?.position ?? -1) + 1, json: job.json))
            }
        }
        tables.simulatedJobs[key] = jobs.isEmpty ? nil : jobs
    }
}
