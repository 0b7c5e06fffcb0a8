public import Foundation

/// A registered cluster (DESIGN.md "Clusters"): where deployments made with
/// `--cluster NAME` live. The embedded `simulated` cluster is never stored.
///
/// Only the kubeconfig's *path* and the context's name are kept, never
/// credentials: the engine reads the file each time it connects.
public struct ClusterRecord: Sendable, Hashable {
    /// The kinds of cluster that can be registered.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A Kubernetes API server, reached with a kubeconfig or from inside a pod.
        case kubernetes
    }

    public var name: String
    public var kind: Kind
    /// The kubeconfig file (an absolute path); nil for in-cluster access.
    public var kubeconfig: String?
    /// The kubeconfig context; nil means its `current-context`.
    public var context: String?
    /// Reached with the pod's service account (`--in-cluster`).
    public var inCluster: Bool
    /// The first layer of `instance.config` for its deployments (`fqdn_suffix`,
    /// `ingress_class`, `chart_repository`, ...), a JSON object.
    public var configJSON: String
    public var createdAt: Date

    public init(name: String, kind: Kind, kubeconfig: String?, context: String?, inCluster: Bool, configJSON: String, createdAt: Date) {
        self.name = name
        self.kind = kind
        self.kubeconfig = kubeconfig
        self.context = context
        self.inCluster = inCluster
        self.configJSON = configJSON
        self.createdAt = createdAt
    }
}

/// What is needed to register a cluster.
public struct NewCluster: Sendable, Hashable {
    public var name: String
    public var kind: ClusterRecord.Kind
    public var kubeconfig: String?
    public var context: String?
    public var inCluster: Bool
    public var configJSON: String

    public init(name: String, kind: ClusterRecord.Kind, kubeconfig: String?, context: String?, inCluster: Bool, configJSON: String) {
        self.name = name
        self.kind = kind
        self.kubeconfig = kubeconfig
        self.context = context
        self.inCluster = inCluster
        self.configJSON = configJSON
    }
}
