public import FlowModel
public import StateStore

/// What `clusters list|show` and their JSON show of a cluster:
/// `{"name", "kind" ("simulated" | "kubernetes"), "kubeconfig", "context",
/// "in_cluster", "config", "created_at", "deployments": [names]}`. The
/// kubeconfig is a path: no credential is ever stored or shown.
public struct ClusterReport: Sendable, Hashable {
    public var name: String
    /// The registration; nil for the embedded `simulated` cluster.
    public var record: ClusterRecord?
    /// The cluster's layer of `instance.config`.
    public var config: JSONValue
    /// The deployments living on it, by name.
    public var deployments: [String]

    /// `simulated` or the registered kind.
    public var kind: String { record?.kind.rawValue ?? "simulated" }

    /// The report as JSON.
    public var json: JSONValue {
        .object([
            "name": .string(name), "kind": .string(kind),
            "kubeconfig": record?.kubeconfig.map(JSONValue.string) ?? .null,
            "context": record?.context.map(JSONValue.string) ?? .null,
            "in_cluster": .bool(record?.inCluster ?? false),
            "config": config,
            "created_at": RunReport.time(record?.createdAt),
            "deployments": .array(deployments.map(JSONValue.string)),
        ])
    }
}
