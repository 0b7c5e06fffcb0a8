public import DriverSpec

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
    /// Checks, before any run is created, that what configures `cluster`
    /// (a simulation fixture, say) fits the driver `spec`. Throws a
    /// ``ClusterError`` naming the setting and what the spec has instead.
    func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError)
}

extension ClusterProvider {
    /// Nothing to check by default.
    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {}
}
