import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// Registers a cluster; a taken name is ``StateStoreError/Code/alreadyExists`` and changes nothing.
    public func createCluster(_ new: NewCluster) async throws(StateStoreError) -> ClusterRecord {
        let now = fixedNow
        let rows = try await query("""
            INSERT INTO clusters (name, kind, kubeconfig, context, in_cluster, config, created_at)
            VALUES (\(new.name), \(new.kind.rawValue), \(new.kubeconfig)::text, \(new.context)::text, \(new.inCluster), \(new.configJSON), \(now: now))
            ON CONFLICT (name) DO NOTHING
            RETURNING *
            """)
        guard let row = rows.first else { throw refusal(.alreadyExists, "a cluster named \"\(new.name)\" already exists") }
        return try decode([row], ClusterRecord.init(row:))[0]
    }

    /// The registered cluster called `name`, or nil.
    public func cluster(named name: String) async throws(StateStoreError) -> ClusterRecord? {
        try decode(try await query("SELECT * FROM clusters WHERE name = \(name)"), ClusterRecord.init(row:)).first
    }

    /// Every registered cluster, by name.
    public func clusters() async throws(StateStoreError) -> [ClusterRecord] {
        try decode(try await query("SELECT * FROM clusters ORDER BY name"), ClusterRecord.init(row:))
    }
}
