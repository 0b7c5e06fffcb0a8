public import StateStore

/// A simulated cluster's state in the state store, per deployment.
public struct StateStoreClusterStorage: SimulatedClusterStorage {
    let store: any StateStore
    let deployment: String

    /// The state of `deployment` in `store`.
    public init(store: any StateStore, deployment: String) {
        self.store = store
        self.deployment = deployment
    }

    /// The cluster's state; its jobs live in their own rows.
    public func load() async throws -> SimulatedClusterState? {
        guard let text = try await store.simulatedClusterState(deployment: deployment) else { return nil }
        var state = try SimulatedClusterState(jsonText: text)
        state.jobs = try await store.simulatedJobs(deployment: deployment).map(SimulatedClusterState.job(jsonText:))
        return state
    }

    public func save(_ state: SimulatedClusterState, changedJobs: [SimulatedClusterState.Job], removedJobs: [String]) async throws {
        var core = state
        core.jobs = []
        try await store.saveSimulatedClusterState(
            deployment: deployment, stateJSON: core.jsonText(pretty: false),
            upsertJobs: changedJobs.map { ($0.name, SimulatedClusterState.jsonText(of: $0)) }, deleteJobs: removedJobs
        )
    }
}
