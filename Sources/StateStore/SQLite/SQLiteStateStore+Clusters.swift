import Foundation
import GRDB

extension SQLiteStateStore {
    /// Registers a cluster; a taken name is ``StateStoreError/Code/alreadyExists``.
    public func createCluster(_ new: NewCluster) async throws(StateStoreError) -> ClusterRecord {
        let now = clock.now
        let path = path
        return try await write { db in
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM clusters WHERE name = ?"), arguments: [new.name]) == true {
                throw StateStoreError(.alreadyExists, location: path, "a cluster named \"\(new.name)\" already exists")
            }
            try db.execute(
                sql: "INSERT INTO clusters (name, kind, kubeconfig, context, in_cluster, config, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [new.name, new.kind.rawValue, new.kubeconfig, new.context, new.inCluster, new.configJSON, now.storedValue]
            )
            return ClusterRecord(name: new.name, kind: new.kind, kubeconfig: new.kubeconfig, context: new.context, inCluster: new.inCluster,
                                 configJSON: new.configJSON, createdAt: Date(storedValue: now.storedValue))
        }
    }

    /// The cluster called `name`, or nil.
    public func cluster(named name: String) async throws(StateStoreError) -> ClusterRecord? {
        let path = path
        return try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM clusters WHERE name = ?"), arguments: [name]).map { row throws(StateStoreError) in
                try ClusterRecord(row: row, location: path)
            }
        }
    }

    /// Every registered cluster, by name.
    public func clusters() async throws(StateStoreError) -> [ClusterRecord] {
        let path = path
        return try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM clusters ORDER BY name")).map { row throws(StateStoreError) in
                try ClusterRecord(row: row, location: path)
            }
        }
    }
}

extension ClusterRecord {
    init(row: Row, location: String) throws(StateStoreError) {
        let kindName: String = row["kind"]
        guard let kind = Kind(rawValue: kindName) else {
            throw StateStoreError(.database, location: location, "cluster \(row["name"] as String? ?? "?") has an unknown kind \"\(kindName)\"")
        }
        self.init(name: row["name"], kind: kind, kubeconfig: row["kubeconfig"], context: row["context"], inCluster: row["in_cluster"],
                  configJSON: row["config"], createdAt: Date(storedValue: row["created_at"]))
    }
}
