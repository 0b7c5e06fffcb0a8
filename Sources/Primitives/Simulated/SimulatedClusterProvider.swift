public import DriverSpec
public import FlowModel
public import StateStore

/// Serves the built-in cluster ``clusterName`` (`simulated`): one
/// ``SimulatedCluster`` per deployment, its state in the state store,
/// behaving as the fixture says.
public struct SimulatedClusterProvider: ClusterProvider {
    /// The name of the simulated cluster; every deployment made before
    /// clusters existed lives on it.
    public static let clusterName = "simulated"

    let store: any StateStore
    let fixture: ClusterFixture

    /// A provider keeping each deployment's simulated cluster in `store`.
    public init(store: any StateStore, fixture: ClusterFixture = ClusterFixture()) {
        self.store = store
        self.fixture = fixture
    }

    public var clusterNames: [String] { [Self.clusterName] }

    public func backend(cluster: String, deployment: String) throws(ClusterError) -> any ClusterBackend {
        guard cluster == Self.clusterName else {
            throw ClusterError(.notFound, "unknown cluster \"\(cluster)\" (known: \(Self.clusterName))")
        }
        return SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: deployment), fixture: fixture)
    }

    /// The embedded cluster's configuration: an nginx ingress and the
    /// `apps.localhost` domain (hostnames that resolve to the local machine).
    public static let configuration: [String: JSONValue] = ["ingress_class": "nginx", "fqdn_suffix": "apps.localhost"]

    public func configuration(cluster: String) async throws(ClusterError) -> [String: JSONValue] {
        Self.configuration
    }

    /// Refuses a fixture that configures a component the driver does not declare.
    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {
        let declared = Set(spec.components.map(\.name))
        if let unknown = fixture.components.keys.sorted().first(where: { !declared.contains($0) }) {
            let source = fixture.file.map { "\($0): " } ?? "the fixture: "
            throw ClusterError(.failed, source + "`components.\(unknown)`: driver \(spec.name) has no component \"\(unknown)\" (its components: \(declared.sorted().joined(separator: ", ")))")
        }
    }
}
