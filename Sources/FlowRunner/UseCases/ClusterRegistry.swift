import DriverSpec
import FlowModel
import Foundation
public import Primitives
public import StateStore

/// The clusters deployments can live on (DESIGN.md "Clusters"): the
/// embedded `simulated` one and those registered in the state store. Used
/// by `clusters add|list|show` without an engine (no interpreter is needed).
public struct ClusterRegistry: Sendable {
    let store: any StateStore
    let clusters: any ClusterProvider

    /// The registry of `store`, whose clusters `clusters` serves (and checks at registration).
    public init(store: any StateStore, clusters: any ClusterProvider) {
        self.store = store
        self.clusters = clusters
    }

    func stored<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        try await EngineError.storing(body)
    }

    /// Registers a cluster (`clusters add`, DESIGN.md "Clusters") after its
    /// provider checked it (a kubeconfig that reads, a context it has).
    ///
    /// - Throws: ``EngineError/Code/badInput`` for a name that is not a
    ///   DNS label or an empty config key, ``EngineError/Code/conflict`` for
    ///   a taken name, ``EngineError/Code/refused`` when the provider refuses
    ///   the cluster (its message names the file and the reason). A refusal stores nothing.
    public func register(_ new: NewCluster) async throws(EngineError) -> ClusterRecord {
        guard LabelSyntax.isDNSLabel(new.name) else {
            throw EngineError(.badInput, "invalid cluster name \"\(new.name)\" (expected up to 63 lowercase letters, digits or '-', "
                + "starting and ending with a letter or digit)", field: "name")
        }
        if let key = (JSONValue(storedText: new.configJSON)?.objectValue ?? [:]).keys.first(where: { $0.isEmpty || $0.contains("=") }) {
            throw EngineError(.badInput, "invalid config key \(key.debugDescription) (expected a name without '=')", field: "config")
        }
        if (try? await store.cluster(named: new.name)) != nil || new.name == SimulatedClusterProvider.clusterName {
            throw EngineError(.conflict, "a cluster named \"\(new.name)\" already exists", field: "name")
        }
        let checked: NewCluster
        do {
            checked = try await clusters.validate(new)
        } catch {
            throw EngineError(.refused, "cluster \(new.name): \(error.message)", field: new.inCluster ? "in_cluster" : "kubeconfig")
        }
        return try await stored { () async throws(StateStoreError) in try await store.createCluster(checked) }
    }

    /// The clusters deployments can live on: the embedded `simulated` one
    /// first, then the registered ones by name, each with its deployments.
    public func reports() async throws(EngineError) -> [ClusterReport] {
        let (records, deployments) = try await stored { () async throws(StateStoreError) in
            (try await store.clusters(), try await store.deployments())
        }
        func names(on cluster: String) -> [String] { deployments.filter { $0.cluster == cluster }.map(\.name) }
        let simulated = ClusterReport(
            name: SimulatedClusterProvider.clusterName, record: nil, config: .object(SimulatedClusterProvider.configuration),
            deployments: names(on: SimulatedClusterProvider.clusterName))
        return [simulated] + records.map { record in
            ClusterReport(name: record.name, record: record, config: JSONValue(storedText: record.configJSON) ?? .object([:]),
                          deployments: names(on: record.name))
        }
    }
}
