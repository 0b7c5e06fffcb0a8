import FlowModel
import Foundation
import NIOCore
public import Primitives

/// `delete` on Kubernetes (DESIGN.md "Backup, restore, delete"): the
/// HelmRelease goes (Flux uninstalls the Helm release through its
/// finalizer), with its chart source, the deployment's Jobs (those labelled
/// `flowrunner.io/deployment`) and dump claims, and the namespace when
/// FlowRunner created it for this deployment (with whatever is left in it).
/// Velero's backups live in Velero's namespace and stay.
extension KubernetesBackend {
    public func uninstall(timeout: Duration) async throws(ClusterError) {
        let deadline = ContinuousClock.now + timeout
        forgetReads()
        do {
            let ours = Self.selector(["flowrunner.io/deployment": deployment])
            // Jobs first (a dump job mounts a claim), their pods with them.
            try await deleteAll(.jobs, selector: ours, body: ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"])
            try await deleteAll(.persistentVolumeClaims, selector: ours + "," + BackupObjects.backupLabel)
            _ = try await client.send(.DELETE, Resource.helmReleases.path(namespace: namespace, name: deployment), accept: [404])
            for source in [Resource.ociRepositories, .helmRepositories] {
                _ = try await client.send(.DELETE, source.path(namespace: namespace, name: deployment), accept: [404])
            }
            let ownNamespace = try await createdNamespace()
            if ownNamespace {
                _ = try await client.send(.DELETE, Resource.namespaces.path(namespace: nil, name: namespace), accept: [404, 409])
            }
            try await waitGone(.helmReleases, in: namespace, names: [deployment], deadline: deadline,
                               what: "HelmRelease \(namespace)/\(deployment) (Flux uninstalls its Helm release)")
            if ownNamespace {
                try await waitGone(.namespaces, in: namespace, names: [namespace], deadline: deadline, what: "namespace \(namespace)")
            }
        } catch {
            throw failure(error, while: "uninstalling deployment \(deployment)")
        }
        forgetReads()
    }

    /// Whether the namespace is one FlowRunner created for this deployment
    /// (it carries `app.kubernetes.io/managed-by: flowrunner` and, when it
    /// has one, this deployment's `flowrunner.io/deployment`), being deleted
    /// or not; false when it is gone.
    func createdNamespace() async throws(KubernetesError) -> Bool {
        let answer = try await client.send(.GET, Resource.namespaces.path(namespace: nil, name: namespace), accept: [404])
        guard answer.status != 404 else { return false }
        let found = answer.body["metadata"]?["labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        return found["app.kubernetes.io/managed-by"] == "flowrunner" && (found["flowrunner.io/deployment"] ?? deployment) == deployment
    }

    /// Deletes every object of `resource` in the namespace matching `selector`, one by one (absent ones are no error).
    func deleteAll(_ resource: Resource, selector: String, body: JSONValue? = nil) async throws(KubernetesError) {
        let items = try await client.send(.GET, resource.path(namespace: namespace), query: [("labelSelector", selector)], accept: [404])
            .body["items"]?.arrayValue ?? []
        for name in items.compactMap({ $0["metadata"]?["name"]?.stringValue }) {
            _ = try await client.send(.DELETE, resource.path(namespace: namespace, name: name), body: body, accept: [404])
        }
    }
}
