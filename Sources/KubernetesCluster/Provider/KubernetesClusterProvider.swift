public import DriverSpec
public import FlowModel
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
    /// Counts the API requests of every backend it gives (for `bench/`).
    public var counter: RequestCounter?

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

    /// The backend of `deployment` on `cluster`, in the deployment's
    /// namespace (its config's `namespace`, else its name).
    ///
    /// - Throws: ``ClusterError`` naming the cluster when it is not
    ///   registered or its kubeconfig cannot be used now.
    public func backend(cluster: String, deployment: String) async throws(ClusterError) -> any ClusterBackend {
        let record: ClusterRecord?
        let found: DeploymentRecord?
        do {
            record = try await store.cluster(named: cluster)
            found = try await store.deployment(named: deployment)
        } catch {
            throw ClusterError(.failed, "cannot read cluster \(cluster): \(error)")
        }
        guard let record else { throw ClusterError(.notFound, "unknown cluster \"\(cluster)\"") }
        let access = try access(of: record)
        let client: KubernetesClient
        do {
            client = try KubernetesClient(access: access, cluster: cluster, counter: counter)
        } catch {
            throw ClusterError(.failed, error.message)
        }
        let deploymentConfig = JSONValue(storedText: found?.configJSON)?.objectValue ?? [:]
        let namespace = deploymentConfig["namespace"]?.stringValue ?? deployment
        let clusterConfig = JSONValue(storedText: record.configJSON)?.objectValue ?? [:]
        return KubernetesBackend(client: client, deployment: deployment, namespace: namespace, config: clusterConfig)
    }

    /// Refuses, before anything is stored, a deployment whose namespace
    /// (its `namespace` config, else its name) is not a DNS label, or whose
    /// name cannot name a Helm release (at most 53 characters).
    public func check(deployment name: String, config: [String: JSONValue], cluster: String) async throws(ClusterError) {
        let namespace = config["namespace"]?.stringValue ?? name
        guard LabelSyntax.isDNSLabel(namespace) else {
            throw ClusterError(.failed, "\"\(namespace)\" cannot be a namespace on Kubernetes cluster \(cluster) (expected up to 63 lowercase "
                + "letters, digits or '-', starting and ending with a letter or digit)" + (config["namespace"] == nil ? "; name the deployment so, or give --config namespace=NAME" : ""))
        }
        guard name.utf8.count <= 53, name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ LabelSyntax.isDNSLabel(String($0)) }) else {
            throw ClusterError(.failed, "\"\(name)\" cannot name a Helm release on Kubernetes cluster \(cluster) (expected up to 53 lowercase letters, digits, '-' or '.')")
        }
    }

    /// Refuses a driver without a chart to install.
    public func check(cluster: String, against spec: DriverSpecification) async throws(ClusterError) {
        guard spec.helmCharts["main"] != nil else {
            throw ClusterError(.failed, "driver \(spec.name) declares no helm.main chart: nothing to install on Kubernetes cluster \(cluster)")
        }
    }
}
