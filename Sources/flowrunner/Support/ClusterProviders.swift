import KubernetesCluster
import Primitives
import StateStore

/// The clusters the CLI and `serve` act on: the embedded simulated cluster
/// (behaving as `fixture` says) and the clusters registered in `store`.
enum ClusterProviders {
    static func make(store: any StateStore, fixture: ClusterFixture = ClusterFixture()) -> RegisteredClusters {
        RegisteredClusters(store: store, simulated: SimulatedClusterProvider(store: store, fixture: fixture),
                           kinds: [.kubernetes: KubernetesClusterProvider(store: store)])
    }
}
