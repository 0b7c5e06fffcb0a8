import FlowModel
import Foundation
import GRDB

extension SQLiteStateStore {
    /// Creates a deployment; a taken name is ``StateStoreError/Code/alreadyExists``.
    public func createDeployment(_ new: NewDeployment) async throws(StateStoreError) -> DeploymentRecord {
        let now = clock.now
        return try await write { db in
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM deployments WHERE name = ? AND deleted_at IS NULL"), arguments: [new.name]) == true {
                throw StateStoreError(.alreadyExists, location: self.path, "a deployment named \"\(new.name)\" already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO deployments (name, driver, driver_version_id, app_version, parameters, config, cluster, created_at, updated_at,
                                             secret_config_keys, components)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [new.name, new.driver, new.driverVersionID, new.appVersion, new.parametersJSON, new.configJSON,
                            new.cluster, now.storedValue, now.storedValue, JSONValue.array(new.secretConfigKeys.map(JSONValue.string)).jsonText,
                            new.componentsJSON]
            )
            return DeploymentRecord(
                id: db.lastInsertedRowID, name: new.name, driver: new.driver, driverVersionID: new.driverVersionID,
                appVersion: new.appVersion, parametersJSON: new.parametersJSON, configJSON: new.configJSON, cluster: new.cluster,
                createdAt: Date(storedValue: now.storedValue), updatedAt: Date(storedValue: now.storedValue),
                secretConfigKeys: new.secretConfigKeys, componentsJSON: new.componentsJSON
            )
        }
    }

    /// Replaces a deployment's component inputs; an unknown id throws ``StateStoreError/Code/notFound``.
    public func setDeploymentComponents(id: RecordID, componentsJSON: String) async throws(StateStoreError) {
        let now = clock.now
        let path = path
        try await write { db in
            try db.cachedStatement(sql: "UPDATE deployments SET components = ?, updated_at = ? WHERE id = ?").execute(arguments: [componentsJSON, now.storedValue, id])
            guard db.changesCount == 1 else { throw StateStoreError(.notFound, location: path, "no deployment \(id)") }
        }
    }

    /// The deployment called `name`.
    public func deployment(named name: String) async throws(StateStoreError) -> DeploymentRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM deployments WHERE name = ? AND deleted_at IS NULL"), arguments: [name]).map(DeploymentRecord.init(row:))
        }
    }

    /// The deployment with this id.
    public func deployment(id: RecordID) async throws(StateStoreError) -> DeploymentRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM deployments WHERE id = ?"), arguments: [id]).map(DeploymentRecord.init(row:))
        }
    }

    /// Every deployment, by name.
    public func deployments() async throws(StateStoreError) -> [DeploymentRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM deployments WHERE deleted_at IS NULL ORDER BY name")).map(DeploymentRecord.init(row:))
        }
    }

    /// Changes a deployment's app version and/or pinned driver version.
    public func updateDeployment(
        id: RecordID, appVersion: String? = nil, driverVersionID: RecordID? = nil, parametersJSON: String? = nil
    ) async throws(StateStoreError) {
        let now = clock.now
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE deployments SET app_version = COALESCE(?, app_version),
                        driver_version_id = COALESCE(?, driver_version_id), parameters = COALESCE(?, parameters), updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [appVersion, driverVersionID, parametersJSON, now.storedValue, id]
            )
            if db.changesCount == 0 {
                throw StateStoreError(.notFound, location: self.path, "no deployment with id \(id)")
            }
        }
    }

    /// Marks a deployment deleted; again is a no-op.
    public func markDeploymentDeleted(id: RecordID) async throws(StateStoreError) {
        let now = clock.now
        let path = path
        try await write { db in
            try db.cachedStatement(sql: "UPDATE deployments SET deleted_at = COALESCE(deleted_at, ?), updated_at = ? WHERE id = ?").execute(arguments: [now.storedValue, now.storedValue, id])
            guard db.changesCount == 1 else { throw StateStoreError(.notFound, location: path, "no deployment with id \(id)") }
        }
    }

    // MARK: Simulated clusters

    /// The simulated cluster's state for a deployment (opaque JSON owned by
    /// the Primitives module), or nil when none was saved.
    public func simulatedClusterState(deployment: String) async throws(StateStoreError) -> String? {
        try await read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM simulated_clusters WHERE deployment = ?"), arguments: [deployment])
        }
    }

    /// The simulated cluster's jobs for a deployment (opaque JSON each), oldest first.
    public func simulatedJobs(deployment: String) async throws(StateStoreError) -> [String] {
        try await read { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT data FROM simulated_jobs WHERE deployment = ? ORDER BY position"), arguments: [deployment])
        }
    }

    /// Replaces the simulated cluster's state for a deployment, and in the
    /// same transaction stores (`upsertJobs`, by name) and removes jobs.
    public func saveSimulatedClusterState(
        deployment: String, stateJSON: String, upsertJobs: [(name: String, json: String)] = [], deleteJobs: [String] = []
    ) async throws(StateStoreError) {
        let now = clock.now
        try await write { db in
            try db.cachedStatement(sql: """
                INSERT INTO simulated_clusters (deployment, state, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (deployment) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """).execute(arguments: [deployment, stateJSON, now.storedValue])
            for name in deleteJobs {
                try db.cachedStatement(sql: "DELETE FROM simulated_jobs WHERE deployment = ? AND name = ?").execute(arguments: [deployment, name])
            }
            for job in upsertJobs {
                try db.cachedStatement(sql: """
                    INSERT INTO simulated_jobs (deployment, name, position, data)
                    VALUES (?, ?, (SELECT COALESCE(MAX(position) + 1, 0) FROM simulated_jobs WHERE deployment = ?), ?)
                    ON CONFLICT (deployment, name) DO UPDATE SET data = excluded.data
                    """).execute(arguments: [deployment, job.name, deployment, job.json])
            }
        }
    }
}

extension DeploymentRecord {
    init(row: Row) {
        self.init(
            id: row["id"], name: row["name"], driver: row["driver"], driverVersionID: row["driver_version_id"],
            appVersion: row["app_version"], parametersJSON: row["parameters"], configJSON: row["config"], cluster: row["cluster"],
            createdAt: Date(storedValue: row["created_at"]), updatedAt: Date(storedValue: row["updated_at"]),
            secretConfigKeys: JSONValue(storedText: row["secret_config_keys"])?.arrayValue?.compactMap(\.stringValue) ?? [],
            componentsJSON: row["components"], deletedAt: row.date("deleted_at")
        )
    }
}
