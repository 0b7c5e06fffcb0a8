public import StateStore

/// A simulated cluster's state in the state store, per deployment.
public struct StateStoreClusterStorage: SimulatedClusterStorage {
    let store: StateStore
    let deployment: String

    /// The state of `deployment` in `store`.
    public init(store: StateStore, deployment: String) {
        self.store = store
        self.deployment = deployment
    }

    public func load() throws -> SimulatedClusterState? {
        try store.simulatedClusterState(deployment: deployment).map { try SimulatedClusterState(jsonText: $0) }
    }

    public func save(_ state: SimulatedClusterState) throws {
        try store.saveSimulatedClusterState(deployment: deployment, stateJSON: state.jsonText(pretty: false))
    }
}
