public import DriverSpec
public import FlowModel
import Foundation
import NIOCore
public import Primitives

/// The ``ClusterBackend`` of one deployment on a Kubernetes cluster
/// (DESIGN.md "Clusters"): its components are the Deployments and
/// StatefulSets of its namespace that match their labels, scaled through
/// the `scale` subresource with the count to restore in the annotation
/// `flowrunner.io/replicas`; its chart is a Flux `HelmRelease` named after
/// the deployment; commands run as `batch/v1` Jobs; backups are Velero's
/// (`KubernetesBackend+Backup`), and a delete uninstalls all of it
/// (`KubernetesBackend+Uninstall`). Waits watch, and each ends at its
/// deadline saying what it waited for.
public actor KubernetesBackend: ClusterBackend {
    /// The annotation keeping the replica count a start restores.
    public static let replicasAnnotation = "flowrunner.io/replicas"
    /// The annotation keeping the app version on the HelmRelease.
    public static let versionAnnotation = "flowrunner.io/app-version"

    let client: KubernetesClient
    /// The deployment (and Helm release) name.
    let deployment: String
    let namespace: String
    /// The cluster's configuration (`chart_repository`, ...).
    let config: [String: JSONValue]
    /// The workloads seen, by name, with their resource.
    private var kinds: [String: Resource] = [:]
    /// The last workload lists by selector, reused for a moment by the
    /// calls of one primitive (a check, then the images); any write here drops them.
    private var listed: [String: (at: ContinuousClock.Instant, found: [(name: String, workload: Workload, object: JSONValue)])] = [:]
    /// The HelmRelease as last read within this primitive (a read, then the patch that follows it).
    private var lastRelease: JSONValue?
    static let listReuse: Duration = .seconds(1)

    public init(client: KubernetesClient, deployment: String, namespace: String, config: [String: JSONValue]) {
        self.client = client
        self.deployment = deployment
        self.namespace = namespace
        self.config = config
    }

    var labels: [String: String] { ["app.kubernetes.io/managed-by": "flowrunner", "flowrunner.io/deployment": deployment] }

    /// Drops what was read of the cluster before (the workloads' kinds and lists, the HelmRelease): after an uninstall.
    func forgetReads() {
        kinds = [:]
        listed = [:]
        lastRelease = nil
    }

    func failure(_ error: KubernetesError) -> ClusterError {
        ClusterError(error.code == .timeout ? .timeout : (error.httpStatus == 404 ? .notFound : .failed), error.message)
    }

    // MARK: Chart

    public func install(spec: DriverSpecification, version: String, values: JSONValue?) async throws(ClusterError) {
        listed = [:]
        do throws(KubernetesError) {
            guard let chart = spec.helmCharts["main"] else {
                throw KubernetesError(.configuration, "driver \(spec.name) declares no helm.main chart to install")
            }
            let source = try ChartSource.resolve(chart, config: config, cluster: client.cluster)
            try await ensureNamespace()
            let sourceResource: Resource = source.kind == "OCIRepository" ? .ociRepositories : .helmRepositories
            try await createOrPatch(sourceResource, source.object(name: deployment, namespace: namespace, labels: labels))
            var spec = source.releaseChart(sourceName: deployment)
            spec["interval"] = "10m"
            spec["releaseName"] = .string(deployment)
            spec["values"] = values.map(MergePatch.droppingNulls) ?? .object([:])
            let release: JSONValue = [
                "apiVersion": .string(Resource.helmReleases.apiVersion), "kind": "HelmRelease",
                "metadata": ["name": .string(deployment), "namespace": .string(namespace), "labels": .object(labels.mapValues(JSONValue.string)),
                             "annotations": [Self.versionAnnotation: .string(version)]],
                "spec": .object(spec),
            ]
            try await createOrPatch(.helmReleases, release)
        } catch {
            throw failure(error)
        }
    }

    public func appVersion() async throws(ClusterError) -> String? {
        try await release()?["metadata"]?["annotations"]?[Self.versionAnnotation]?.stringValue
    }

    public func appliedValues() async throws(ClusterError) -> JSONValue? {
        try await release()?["spec"]?["values"]
    }

    /// Values as the API server keeps them: members set to null are dropped
    /// (Kubernetes prunes them in custom resources), so a chart's own default applies.
    public nonisolated func valuesAsStored(_ values: JSONValue) -> JSONValue {
        MergePatch.droppingNulls(values)
    }

    /// The HelmRelease, or nil before install.
    func release() async throws(ClusterError) -> JSONValue? {
        do {
            return try await fetchRelease()
        } catch {
            throw failure(error)
        }
    }

    func fetchRelease() async throws(KubernetesError) -> JSONValue? {
        let answer = try await client.send(.GET, Resource.helmReleases.path(namespace: namespace, name: deployment), accept: [404])
        lastRelease = answer.status == 404 ? nil : answer.body
        return lastRelease
    }

    public func setAppVersion(_ version: String, values: JSONValue?) async throws(ClusterError) {
        listed = [:]
        do {
            // One merge patch from what the release holds: the annotation set (other writers' kept), the values
            // replaced (members the new values dropped set to null, so the API server removes them).
            var current = lastRelease
            if current == nil { current = try await fetchRelease() }
            var patch: [String: JSONValue] = ["metadata": ["annotations": [Self.versionAnnotation: .string(version)]]]
            if let values {
                let before = current?["spec"]?["values"] ?? .object([:])
                patch["spec"] = ["values": MergePatch.diff(from: before, to: MergePatch.droppingNulls(values))]
            }
            _ = try await client.send(.PATCH, Resource.helmReleases.path(namespace: namespace, name: deployment), body: .object(patch),
                                      contentType: KubernetesClient.PatchType.merge.rawValue)
            lastRelease = nil
        } catch {
            throw failure(error)
        }
    }

    public func waitForRollout(timeout: Duration) async throws(ClusterError) {
        let deadline = ContinuousClock.now + timeout
        do {
            let name = deployment
            // A release Flux gave up on at this generation is asked to try again (what `flux reconcile` does):
            // a retry after a transient failure needs no spec change.
            if let release = try await fetchRelease(), case .failed = ReleaseStatus.verdict(release, name: name) {
                let now = ISO8601DateFormatter().string(from: Date())
                _ = try await client.send(.PATCH, Resource.helmReleases.path(namespace: namespace, name: name),
                                          body: ["metadata": ["annotations": [ReleaseStatus.reconcileAnnotation: .string(now)]]],
                                          contentType: KubernetesClient.PatchType.merge.rawValue)
            }
            lastRelease = nil
            _ = try await ListWatch(client: client, resource: .helmReleases, namespace: namespace, fieldSelector: "metadata.name=" + name)
                .wait(until: deadline) { objects in ReleaseStatus.verdict(objects[name], name: name) }
            let all = try await listWorkloads(selector: nil).map(\.name)
            try await settle(all, deadline: deadline)
        } catch {
            throw failure(error)
        }
    }

    // MARK: Workloads

    public func workloads(matching labels: [String: String]) async throws(ClusterError) -> [Workload] {
        do {
            return try await listWorkloads(selector: Self.selector(labels)).map(\.workload)
        } catch {
            throw failure(error)
        }
    }

    func listWorkloads(selector: String?) async throws(KubernetesError) -> [(name: String, workload: Workload, object: JSONValue)] {
        if let recent = listed[selector ?? ""], ContinuousClock.now - recent.at < Self.listReuse { return recent.found }
        var found: [(name: String, workload: Workload, object: JSONValue)] = []
        for resource in [Resource.deployments, .statefulSets] {
            let query = selector.map { [("labelSelector", $0)] } ?? []
            let items = try await client.send(.GET, resource.path(namespace: namespace), query: query).body["items"]?.arrayValue ?? []
            for item in items {
                guard let name = item["metadata"]?["name"]?.stringValue else { continue }
                // Another release in a shared namespace is not this deployment's (Helm marks what it installs).
                if let owner = item["metadata"]?["annotations"]?["meta.helm.sh/release-name"]?.stringValue, owner != deployment { continue }
                kinds[name] = resource
                found.append((name, WorkloadStatus.workload(item, kind: resource.kind), item))
            }
        }
        listed[selector ?? ""] = (ContinuousClock.now, found)
        return found
    }

    public func scale(workload: String, replicas: Int, remember: Int?, forget: Bool) async throws(ClusterError) {
        listed = [:]
        do {
            let resource = try await resource(of: workload)
            if remember != nil || forget {
                let value: JSONValue = remember.map { .string(String($0)) } ?? .null
                _ = try await client.send(.PATCH, resource.path(namespace: namespace, name: workload),
                                          body: ["metadata": ["annotations": [Self.replicasAnnotation: value]]],
                                          contentType: KubernetesClient.PatchType.merge.rawValue)
            }
            _ = try await client.send(.PATCH, resource.path(namespace: namespace, name: workload, subresource: "scale"),
                                      body: ["spec": ["replicas": .int(replicas)]], contentType: KubernetesClient.PatchType.merge.rawValue)
        } catch {
            throw failure(error)
        }
    }

    func resource(of workload: String) async throws(KubernetesError) -> Resource {
        if let known = kinds[workload] { return known }
        _ = try await listWorkloads(selector: nil)
        guard let known = kinds[workload] else {
            throw KubernetesError(.status, "cluster \(client.cluster): no Deployment or StatefulSet \(workload) in namespace \(namespace)", httpStatus: 404)
        }
        return known
    }

    public func waitUntilSettled(workloads: [String], timeout: Duration) async throws(ClusterError) {
        do {
            try await settle(workloads, deadline: ContinuousClock.now + timeout)
        } catch {
            throw failure(error)
        }
    }

    /// Waits until each workload is settled (``WorkloadStatus/settled(_:)``), by kind.
    func settle(_ names: [String], deadline: ContinuousClock.Instant) async throws(KubernetesError) {
        var byKind: [Resource: Set<String>] = [:]
        for name in names { byKind[try await resource(of: name), default: []].insert(name) }
        for (resource, wanted) in byKind.sorted(by: { $0.key.plural < $1.key.plural }) {
            let namespace = namespace
            let settled: [String: JSONValue]
            do {
                settled = try await ListWatch(client: client, resource: resource, namespace: namespace).wait(until: deadline) { objects in
                    for name in wanted.sorted() {
                        guard let object = objects[name] else { return .waiting("\(resource.kind) \(namespace)/\(name) (it is gone)") }
                        if let waiting = WorkloadStatus.unsettled(object) {
                            return .waiting("\(resource.kind) \(namespace)/\(name): \(waiting)")
                        }
                    }
                    return .done
                }
            } catch where error.code == .timeout {
                // Say why, as kubectl describe would: the first pod that is not ready, and what it waits for.
                let why = await notReadyPod(of: wanted.sorted(), resource: resource)
                throw KubernetesError(.timeout, error.message + (why.map { "; \($0)" } ?? ""))
            }
            // Stopped means no pod is left: a controller counts a terminating pod out long before it is gone.
            for name in wanted.sorted() where settled[name]?["spec"]?["replicas"]?.intValue == 0 {
                guard let selector = settled[name]?["spec"]?["selector"]?["matchLabels"]?.objectValue?.compactMapValues(\.stringValue),
                      !selector.isEmpty else { continue }
                let what = "the pods of \(resource.kind) \(namespace)/\(name) to be gone"
                _ = try await ListWatch(client: client, resource: .pods, namespace: namespace, labelSelector: Self.selector(selector))
                    .wait(until: deadline) { pods in
                        // The workload's own pods: a finished pod, or a Job's that carries the component's labels, is not one.
                        let left = pods.filter { WorkloadStatus.isWorkloadPod($0.value) }.keys.sorted()
                        return left.isEmpty ? .done : .waiting("\(what) (\(left.count) left: \(left.prefix(3).joined(separator: ", ")))")
                    }
            }
        }
    }

    /// The first pod of `names` that is not ready, with its phase and its
    /// container's waiting reason (`ImagePullBackOff: ...`); nil when none is found.
    func notReadyPod(of names: [String], resource: Resource) async -> String? {
        for name in names {
            guard let workload = try? await client.send(.GET, resource.path(namespace: namespace, name: name)).body,
                  let selector = workload["spec"]?["selector"]?["matchLabels"]?.objectValue?.compactMapValues(\.stringValue), !selector.isEmpty,
                  let pods = try? await client.send(.GET, Resource.pods.path(namespace: namespace), query: [("labelSelector", Self.selector(selector))])
                    .body["items"]?.arrayValue else { continue }
            for pod in pods where WorkloadStatus.isWorkloadPod(pod) {
                let ready = (pod["status"]?["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
                guard !ready else { continue }
                let text = "pod \(pod["metadata"]?["name"]?.stringValue ?? "?") is \(pod["status"]?["phase"]?.stringValue ?? "unknown")"
                if let waiting = WorkloadStatus.waitingContainer(of: pod) {
                    return text + ", container \(waiting.name) waiting: \(waiting.reason)"
                }
                let condition = (pod["status"]?["conditions"]?.arrayValue ?? []).first { $0["type"] == "Ready" }
                return text + ", not ready" + (condition?["reason"]?.stringValue.map { " (\($0))" } ?? "")
            }
        }
        return nil
    }

    public func restart(workload: String) async throws(ClusterError) {
        listed = [:]
        do {
            let resource = try await resource(of: workload)
            let now = ISO8601DateFormatter().string(from: Date())
            // What `kubectl rollout restart` writes.
            _ = try await client.send(.PATCH, resource.path(namespace: namespace, name: workload),
                                      body: ["spec": ["template": ["metadata": ["annotations": ["kubectl.kubernetes.io/restartedAt": .string(now)]]]]],
                                      contentType: KubernetesClient.PatchType.merge.rawValue)
        } catch {
            throw failure(error)
        }
    }

    public func images(matching labels: [String: String]) async throws(ClusterError) -> [String] {
        do {
            var images: [String] = []
            for found in try await listWorkloads(selector: Self.selector(labels)) {
                for container in found.object["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? [] {
                    if let image = container["image"]?.stringValue, !images.contains(image) { images.append(image) }
                }
            }
            return images
        } catch {
            throw failure(error)
        }
    }

    public func environment(matching labels: [String: String]) async throws(ClusterError) -> [String: String] {
        do {
            let first = try await listWorkloads(selector: Self.selector(labels)).first
            var environment: [String: String] = [:]
            for variable in first?.object["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["env"]?.arrayValue ?? [] {
                if let name = variable["name"]?.stringValue, let value = variable["value"]?.stringValue { environment[name] = value }
            }
            return environment
        } catch {
            throw failure(error)
        }
    }

    // MARK: Helpers

    func ensureNamespace() async throws(KubernetesError) {
        let exists = try await client.send(.GET, Resource.namespaces.path(namespace: nil, name: namespace), accept: [404, 403])
        guard exists.status == 404 else { return }
        _ = try await client.send(.POST, Resource.namespaces.path(namespace: nil),
                                  body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace),
                                                                                              "labels": .object(labels.mapValues(JSONValue.string))]],
                                  accept: [409])
    }

    /// Creates `object`, or, when it exists, merges its labels, annotations and spec into the existing one.
    func createOrPatch(_ resource: Resource, _ object: JSONValue) async throws(KubernetesError) {
        let created = try await client.send(.POST, resource.path(namespace: namespace), body: object, accept: [409])
        guard created.status == 409, let name = object["metadata"]?["name"]?.stringValue else { return }
        // Only what FlowRunner sets: other writers' labels and annotations stay.
        var metadata: [String: JSONValue] = [:]
        for key in ["labels", "annotations"] { if let value = object["metadata"]?[key] { metadata[key] = value } }
        let patch: JSONValue = ["metadata": .object(metadata), "spec": object["spec"] ?? .object([:])]
        _ = try await client.send(.PATCH, resource.path(namespace: namespace, name: name), body: patch,
                                  contentType: KubernetesClient.PatchType.merge.rawValue)
    }

    /// A label selector requiring every label (`a=b,c=d`).
    static func selector(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
