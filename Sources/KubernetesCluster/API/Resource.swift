/// The Kubernetes resources FlowRunner uses, with the API group and version
/// it speaks for each (the Kubernetes API reference; Flux's
/// `helm.toolkit.fluxcd.io/v2` and `source.toolkit.fluxcd.io/v1`; Velero's `velero.io/v1`).
public struct Resource: Sendable, Hashable, CustomStringConvertible {
    /// `""` for the core group.
    public var group: String
    public var version: String
    /// The plural name in paths (`deployments`).
    public var plural: String
    /// The kind in objects (`Deployment`).
    public var kind: String
    /// Whether objects live in a namespace.
    public var namespaced = true

    public static let namespaces = Resource(group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let pods = Resource(group: "", version: "v1", plural: "pods", kind: "Pod")
    public static let deployments = Resource(group: "apps", version: "v1", plural: "deployments", kind: "Deployment")
    public static let statefulSets = Resource(group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet")
    public static let jobs = Resource(group: "batch", version: "v1", plural: "jobs", kind: "Job")
    public static let helmReleases = Resource(group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases", kind: "HelmRelease")
    public static let helmRepositories = Resource(group: "source.toolkit.fluxcd.io", version: "v1", plural: "helmrepositories", kind: "HelmRepository")
    public static let ociRepositories = Resource(group: "source.toolkit.fluxcd.io", version: "v1", plural: "ocirepositories", kind: "OCIRepository")
    /// A dump's volume, and the volumes Velero snapshots.
    public static let persistentVolumeClaims = Resource(group: "", version: "v1", plural: "persistentvolumeclaims", kind: "PersistentVolumeClaim")
    /// What a dump tool connects to the database through.
    public static let services = Resource(group: "", version: "v1", plural: "services", kind: "Service")
    /// Velero's (`velero.io/v1`): a backup of selected objects and their volumes' snapshots.
    public static let veleroBackups = Resource(group: "velero.io", version: "v1", plural: "backups", kind: "Backup")
    public static let veleroRestores = Resource(group: "velero.io", version: "v1", plural: "restores", kind: "Restore")
    /// What asks Velero to delete a backup with its data (a plain delete of the Backup would be synced back from storage).
    public static let veleroDeleteBackupRequests = Resource(group: "velero.io", version: "v1", plural: "deletebackuprequests", kind: "DeleteBackupRequest")

    /// `apiVersion` in objects (`apps/v1`, `v1`).
    public var apiVersion: String { group.isEmpty ? version : group + "/" + version }

    /// The collection's path in `namespace` (or cluster-wide), e.g. `/apis/apps/v1/namespaces/NS/deployments`.
    public func path(namespace: String?) -> String {
        let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        guard namespaced, let namespace else { return root + "/" + plural }
        return root + "/namespaces/\(namespace)/" + plural
    }

    /// One object's path, with an optional subresource (`scale`, `log`, `status`).
    public func path(namespace: String?, name: String, subresource: String? = nil) -> String {
        path(namespace: namespace) + "/" + name + (subresource.map { "/" + $0 } ?? "")
    }

    public var description: String { plural + (group.isEmpty ? "" : "." + group) }
}
