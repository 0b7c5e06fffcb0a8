public import FlowModel
public import StateStore

extension DeploymentReport {
    /// One deployment of a list, with what its summary shows.
    public struct Listed: Sendable {
        public var deployment: DeploymentRecord
        public var driver: DriverVersionRecord?
        public var secrets: SecretParameters

        /// `{"name", "driver", ...}` (``DeploymentReport/summary(_:driver:secrets:)``).
        public var json: JSONValue { DeploymentReport.summary(deployment, driver: driver, secrets: secrets) }
    }

    /// Every deployment with its driver version and secret names
    /// (`deployments list`, `GET /v1/deployments`), by name. Throws the
    /// store's error as an ``EngineError``.
    public static func list(store: any StateStore) async throws(EngineError) -> [Listed] {
        var rows: [Listed] = []
        var secretsByVersion: [RecordID: SecretParameters] = [:]
        do {
            for deployment in try await store.deployments() {
                let versionID = deployment.driverVersionID
                if secretsByVersion[versionID] == nil {
                    secretsByVersion[versionID] = try await SecretParameters.load(versionID: versionID, from: store)
                }
                rows.append(Listed(deployment: deployment, driver: try await store.driverVersion(id: versionID),
                                   secrets: secretsByVersion[versionID] ?? SecretParameters()))
            }
        } catch {
            throw EngineError(storeError: error)
        }
        return rows
    }
}
