/// Gives the engine the ``ClusterBackend`` of a deployment's cluster. The
/// engine never builds a backend itself: the caller (the CLI, `serve`, a
/// test) composes the providers it wants, e.g. ``SimulatedClusterProvider``.
public protocol ClusterProvider: Sendable {
    /// The cluster names this provider serves, for messages (`simulated`, ...).
    var clusterNames: [String] { get async }
    /// The backend acting on `deployment`'s objects on the cluster named
    /// `cluster`. Throws ``ClusterError/Code/notFound`` for a cluster this
    /// provider does not know, naming the ones it does.
    func backend(cluster: String, deployment: String) async throws(ClusterError) -> any ClusterBackend
}
