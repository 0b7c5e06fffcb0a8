public import DriverSpec
public import FlowModel
public import StateStore

/// Gives the engine the ``ClusterBackend`` of a deployment's cluster. The
/// engine never builds a backend itself: the caller (the CLI, `serve`, a
/// test) composes the providers it wants, e.g. ``SimulatedClusterProvider``
/// for the embedded cluster and ``RegisteredClusters`` for the clusters in
/// the state store.
public protocol ClusterProvider: Sendable {
    /// The cluster names this provider serves, for messages (`simulated`, ...).
    var clusterNames: [String] { get async }
    /// The backend acting on `deployment`'s objects on the cluster named
    /// `cluster`. Throws ``ClusterError/Code/notFound`` for a cluster this
    /// provider does not know, naming the ones it does.
    func backend(cluster: String, deployment: String) async throws(ClusterError) -> any ClusterBackend
    /// Checks, before any run is created, that what configures `cluster`
    /// (a simulation fixture, say) fits the driver `spec`. Throws a
    /// ``ClusterError`` naming the setting and what the spec has instead.
    func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError)
    /// Checks, before a deployment is stored, that its name and `config` can
    /// live on `cluster` (a Kubernetes namespace and Helm release name, say).
    /// Throws a ``ClusterError`` naming what is wrong and what is expected.
    func check(deployment name: String, config: [String: JSONValue], cluster: String) async throws(ClusterError)
    /// The first layer of `instance.config` for deployments on `cluster`
    /// (DESIGN.md "Clusters": `fqdn_suffix`, `ingress_class`, ...); the
    /// deployment's own config wins over it. Throws
    /// ``ClusterError/Code/notFound`` for an unknown cluster.
    func configuration(cluster: String) async throws(ClusterError) -> [String: JSONValue]
    /// Checks a cluster before it is registered (a Kubernetes provider reads
    /// the kubeconfig and finds the context) and returns the registration to
    /// store, completed (the kubeconfig's current context named, so a later
    /// change of it does not move the cluster). Throws a ``ClusterError``
    /// naming the file, the setting and the reason; nothing is stored then.
    func validate(_ registration: NewCluster) async throws(ClusterError) -> NewCluster
}

extension ClusterProvider {
    /// Nothing to check by default.
    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {}

    /// Any name by default.
    public func check(deployment name: String, config: [String: JSONValue], cluster: String) async throws(ClusterError) {}

    /// No configuration by default.
    public func configuration(cluster: String) async throws(ClusterError) -> [String: JSONValue] { [:] }

    /// Refuses every registration by default: this provider serves no registered clusters.
    public func validate(_ registration: NewCluster) async throws(ClusterError) -> NewCluster {
        throw ClusterError(.failed, "\(registration.kind.rawValue) clusters cannot be reached by this engine")
    }
}
