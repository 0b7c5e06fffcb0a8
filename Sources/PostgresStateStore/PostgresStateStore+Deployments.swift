import FlowModel
import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// Creates a deployment; a name taken by a deployment that is not
    /// deleted throws ``StateStoreError/Code/alreadyExists``, a missing driver
    /// version ``StateStoreError/Code/database`` (nothing is written either way).
    public func createDeployment(_ new: NewDeployment) async throws(StateStoreError) -> DeploymentRecord {
        let now = fixedNow
        let secretKeys = JSONValue.array(new.secretConfigKeys.map(JSONValue.string)).jsonText
        let rows = try await query("""
            INSERT INTO deployments (name, driver, driver_version_id, app_version, parameters, config, cluster, created_at, updated_at,
                                     secret_config_keys, components)
            SELECT \(new.name), \(new.driver), v.id, \(new.appVersion), \(new.parametersJSON), \(new.configJSON), \(new.cluster),
                   \(now: now), \(now: now), \(secretKeys), \(new.componentsJSON)
            FROM driver_versions v
            WHERE v.id = \(new.driverVersionID) AND NOT EXISTS (SELECT 1 FROM deployments WHERE name = \(new.name) AND deleted_at IS NULL)
            ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING
            RETURNING *
            """)
        if let row = rows.first { return try decode([row], DeploymentRecord.init(row:))[0] }
        // Nothing inserted: the name is taken, or the driver version is missing.
        if try await deployment(named: new.name) != nil {
            throw refusal(.alreadyExists, "a deployment named \"\(new.name)\" already exists")
        }
        throw refusal(.database, "insert or update on table \"deployments\" violates foreign key constraint (no driver version \(new.driverVersionID))")
    }

    /// Replaces a deployment's component inputs; an unknown id throws ``StateStoreError/Code/notFound``.
    public func setDeploymentComponents(id: RecordID, componentsJSON: String) async throws(StateStoreError) {
        let now = fixedNow
        let rows = try await query("UPDATE deployments SET components = \(componentsJSON), updated_at = \(now: now) WHERE id = \(id) RETURNING id")
        guard !rows.isEmpty else { throw refusal(.notFound, "no deployment \(id)") }
    }

    /// The deployment called `name` that is not deleted, or nil.
    public func deployment(named name: String) async throws(StateStoreError) -> DeploymentRecord? {
        try decode(try await query("SELECT * FROM deployments WHERE name = \(name) AND deleted_at IS NULL"), DeploymentRecord.init(row:)).first
    }

    /// The deployment with this id, deleted or not, or nil.
    public func deployment(id: RecordID) async throws(StateStoreError) -> DeploymentRecord? {
        try decode(try await query("SELECT * FROM deployments WHERE id = \(id)"), DeploymentRecord.init(row:)).first
    }

    /// Every deployment that is not deleted, by name.
    public func deployments() async throws(StateStoreError) -> [DeploymentRecord] {
        try decode(try await query("SELECT * FROM deployments WHERE deleted_at IS NULL ORDER BY name"), DeploymentRecord.init(row:))
    }

    /// Changes what is not nil of a deployment; an unknown id throws
    /// ``StateStoreError/Code/notFound``, a missing driver version ``StateStoreError/Code/database``.
    public func updateDeployment(id: RecordID, appVersion: String?, driverVersionID: RecordID?, parametersJSON: String?) async throws(StateStoreError) {
        let now = fixedNow
        let rows = try await query("""
            UPDATE deployments SET app_version = COALESCE(\(appVersion)::text, app_version),
                driver_version_id = COALESCE(\(driverVersionID)::bigint, driver_version_id),
                parameters = COALESCE(\(parametersJSON)::text, parameters), updated_at = \(now: now)
            WHERE id = \(id) RETURNING id
            """)
        guard !rows.isEmpty else { throw refusal(.notFound, "no deployment with id \(id)") }
    }

    /// Marks a deployment deleted; again changes nothing, an unknown id throws ``StateStoreError/Code/notFound``.
    public func markDeploymentDeleted(id: RecordID) async throws(StateStoreError) {
        let now = fixedNow
        let rows = try await query("""
            UPDATE deployments SET deleted_at = COALESCE(deleted_at, \(now: now)), updated_at = \(now: now) WHERE id = \(id) RETURNING id
            """)
        guard !rows.isEmpty else { throw refusal(.notFound, "no deployment with id \(id)") }
    }

    // MARK: Simulated clusters

    /// The saved state of a deployment's simulated cluster, or nil.
    public func simulatedClusterState(deployment: String) async throws(StateStoreError) -> String? {
        let rows = try await query("SELECT state FROM simulated_clusters WHERE deployment = \(deployment)")
        return try decode(rows) { try $0.value("state", as: String.self) }.first
    }

    /// The simulated cluster's jobs of a deployment (opaque JSON each), oldest first.
    public func simulatedJobs(deployment: String) async throws(StateStoreError) -> [String] {
        let rows = try await query("SELECT data FROM simulated_jobs WHERE deployment = \(deployment) ORDER BY position")
        return try decode(rows) { try $0.value("data", as: String.self) }
    }

    /// Replaces the state and, in the same transaction, upserts (by name; a
    /// new job goes last, an existing one keeps its place) and deletes jobs.
    public func saveSimulatedClusterState(
        deployment: String, stateJSON: String, upsertJobs: [(name: String, json: String)], deleteJobs: [String]
    ) async throws(StateStoreError) {
        let now = fixedNow
        let jobs = upsertJobs.map { (name: $0.name, json: $0.json) }
        try await transaction { sql in
            try await sql.execute("""
                INSERT INTO simulated_clusters (deployment, state, updated_at) VALUES (\(deployment), \(stateJSON), \(now: now))
                ON CONFLICT (deployment) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """)
            if !deleteJobs.isEmpty {
                try await sql.execute("DELETE FROM simulated_jobs WHERE deployment = \(deployment) AND name = ANY(\(deleteJobs)::text[])")
            }
            for job in jobs {
                try await sql.execute("""
                    INSERT INTO simulated_jobs (deployment, name, position, data)
                    SELECT \(deployment), \(job.name), COALESCE(MAX(position) + 1, 0), \(job.json) FROM simulated_jobs WHERE deployment = \(deployment)
                    ON CONFLICT (deployment, name) DO UPDATE SET data = excluded.data
                    """)
            }
        }
    }
}
