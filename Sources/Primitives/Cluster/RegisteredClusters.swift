public import DriverSpec
public import FlowModel
public import StateStore

/// The clusters of one state store: the embedded `simulated` cluster, and
/// every registered cluster (``ClusterRecord``) served by the provider of
/// its kind. A kind without a provider is named in the error of each use.
public struct RegisteredClusters: ClusterProvider {
    let store: any StateStore
    let simulated: any ClusterProvider
    let kinds: [ClusterRecord.Kind: any ClusterProvider]

    /// Serves `simulated`'s clusters (``SimulatedClusterProvider``) and the
    /// clusters registered in `store`, each by the provider in `kinds` for its kind.
    public init(store: any StateStore, simulated: any ClusterProvider, kinds: [ClusterRecord.Kind: any ClusterProvider] = [:]) {
        self.store = store
        self.simulated = simulated
        self.kinds = kinds
    }

    public var clusterNames: [String] {
        get async {
            let registered = ((try? await store.clusters()) ?? []).map(\.name)
            return await simulated.clusterNames + registered
        }
    }

    /// The provider serving `cluster`, by its registration.
    func provider(of cluster: String) async throws(ClusterError) -> any ClusterProvider {
        try await route(cluster).provider
    }

    /// The provider serving `cluster` and its registration (nil for the embedded cluster).
    func route(_ cluster: String) async throws(ClusterError) -> (provider: any ClusterProvider, record: ClusterRecord?) {
        if await simulated.clusterNames.contains(cluster) { return (simulated, nil) }
        let record: ClusterRecord?
        do {
            record = try await store.cluster(named: cluster)
        } catch {
            throw ClusterError(.failed, "cannot read cluster \"\(cluster)\": \(error)")
        }
        guard let record else {
            throw ClusterError(.notFound, "unknown cluster \"\(cluster)\" (known: \(await clusterNames.joined(separator: ", ")); "
                + "register one with: flowrunner clusters add NAME --kubernetes)")
        }
        guard let provider = kinds[record.kind] else {
            throw ClusterError(.failed, "cluster \"\(cluster)\" is a \(record.kind.rawValue) cluster, which this engine cannot reach")
        }
        return (provider, record)
    }

    public func backend(cluster: String, deployment: String) async throws(ClusterError) -> any ClusterBackend {
        try await provider(of: cluster).backend(cluster: cluster, deployment: deployment)
    }

    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {
        try await provider(of: cluster).check(cluster: cluster, against: spec)
    }

    public func check(deployment name: String, config: [String: JSONValue], cluster: String) async throws(ClusterError) {
        try await provider(of: cluster).check(deployment: name, config: config, cluster: cluster)
    }

    /// A registered cluster's `--config`; the simulated cluster's own defaults.
    public func configuration(cluster: String) async throws(ClusterError) -> [String: JSONValue] {
        let (provider, record) = try await route(cluster)
        guard let record else { return try await provider.configuration(cluster: cluster) }
        return JSONValue(storedText: record.configJSON)?.objectValue ?? [:]
    }

    public func validate(_ registration: NewCluster) async throws(ClusterError) -> NewCluster {
        if await simulated.clusterNames.contains(registration.name) {
            throw ClusterError(.failed, "\"\(registration.name)\" is the embedded cluster's name; choose another")
        }
        guard let provider = kinds[registration.kind] else {
            throw ClusterError(.failed, "\(registration.kind.rawValue) clusters cannot be reached by this engine")
        }
        return try await provider.validate(registration)
    }
}
