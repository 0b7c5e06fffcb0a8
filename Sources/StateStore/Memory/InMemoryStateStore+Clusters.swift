import Foundation

extension InMemoryStateStore {
    // MARK: Clusters

    /// Registers a cluster; a taken name throws ``StateStoreError/Code/alreadyExists``.
    public func createCluster(_ new: NewCluster) async throws(StateStoreError) -> ClusterRecord {
        let key = StoredText(new.name)
        guard tables.clusters[key] == nil else {
            throw failure(.alreadyExists, "a cluster named \"\(new.name)\" already exists")
        }
        let record = ClusterRecord(name: new.name, kind: new.kind, kubeconfig: new.kubeconfig, context: new.context,
                                   inCluster: new.inCluster, configJSON: new.configJSON, createdAt: clock.now.asStored)
        tables.clusters[key] = record
        return record
    }

    /// The cluster called `name`, or nil.
    public func cluster(named name: String) async throws(StateStoreError) -> ClusterRecord? {
        tables.clusters[StoredText(name)]
    }

    /// Every registered cluster, by name.
    public func clusters() async throws(StateStoreError) -> [ClusterRecord] {
        tables.clusters.values.sorted { StoredText.precedes($0.name, $1.name) }
    }
}
