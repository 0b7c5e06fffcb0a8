public import DriverSpec
import Foundation
public import Primitives
public import StateStore

/// Serves the registered Kubernetes clusters of a state store (DESIGN.md
/// "Clusters"): checks a registration by reading its kubeconfig context (or
/// service account), and gives each deployment a backend in its namespace.
/// Nothing is connected until a backend is asked for: commands acting on
/// the simulated cluster never set up a client.
public struct KubernetesClusterProvider: ClusterProvider {
    let store: any StateStore
    let environment: [String: String]

    /// A provider of the Kubernetes clusters registered in `store`;
    /// `environment` (default: the process's) is where in-cluster access finds its service host.
    public init(store: any StateStore, environment: [String: String]? = nil) {
        self.store = store
        self.environment = environment ?? ProcessInfo.processInfo.environment
    }

    public var clusterNames: [String] {
        get async { ((try? await store.clusters()) ?? []).filter { $0.kind == .kubernetes }.map(\.name) }
    }

    /// How to reach a registered cluster now (its kubeconfig is read again each time).
    ///
    /// - Throws: ``ClusterError`` naming the cluster, the file and the reason.
    public func access(of record: ClusterRecord) throws(ClusterError) -> KubernetesAccess {
        do throws(KubernetesError) {
            if record.inCluster { return try KubernetesAccess.inCluster(environment: environment) }
            guard let path = record.kubeconfig else {
                throw KubernetesError(.configuration, "no kubeconfig is registered")
            }
            return try Kubeconfig.load(path: path).access(context: record.context)
        } catch {
            throw ClusterError(.failed, "cluster \(record.name): \(error.message)")
        }
    }

    /// Reads the registration's kubeconfig context (or service account) as
    /// a connection would, and names the kubeconfig's current context when
    /// none was given: a registered cluster stays the one it was, whatever
    /// `kubectl config use-context` does later.
    public func validate(_ registration: NewCluster) async throws(ClusterError) -> NewCluster {
        var checked = registration
        do throws(KubernetesError) {
            if registration.inCluster {
                _ = try KubernetesAccess.inCluster(environment: environment)
                return checked
            }
            guard let path = registration.kubeconfig else { throw KubernetesError(.configuration, "no kubeconfig given") }
            let kubeconfig = try Kubeconfig.load(path: path)
            _ = try kubeconfig.access(context: registration.context)
            checked.context = registration.context ?? kubeconfig.currentContext
            return checked
        } catch {
            throw ClusterError(.failed, error.message)
        }
    }

    /// Refuses every run for now: the backend is being built (issue 18), and
    /// nothing should be stored for a run that cannot act.
    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {
        throw ClusterError(.failed, "cluster \(cluster) is a Kubernetes cluster: acting on Kubernetes clusters is not built yet (issue 18)")
    }

    public func backend(cluster: String, deployment: String) async throws(ClusterError) -> any ClusterBackend {
        throw ClusterError(.failed, "cluster \(cluster): acting on Kubernetes clusters is not built yet (issue 18)")
    }
}
