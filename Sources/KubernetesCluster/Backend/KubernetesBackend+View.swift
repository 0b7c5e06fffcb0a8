import FlowModel
import Foundation
import NIOCore
public import Primitives

/// What `deployments show` and `dry-run` see of a deployment on Kubernetes.
extension KubernetesBackend {
    public func snapshot() async throws(ClusterError) -> String {
        do {
            let release = try await fetchRelease()
            let workloads = try await listWorkloads(selector: nil).map { found -> JSONValue in
                [
                    "name": .string(found.name), "kind": .string(found.workload.kind), "replicas": .int(found.workload.replicas),
                    "ready_replicas": .int(found.workload.readyReplicas), "labels": .object(found.workload.labels.mapValues(JSONValue.string)),
                    "images": .array((found.object["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []).compactMap { $0["image"] }),
                ]
            }
            let jobs = (try await client.send(.GET, Resource.jobs.path(namespace: namespace)).body["items"]?.arrayValue ?? []).map { job -> JSONValue in
                ["name": job["metadata"]?["name"] ?? .null, "finished": .bool(JobObject.finished(job))]
            }
            var view: [String: JSONValue] = [
                "namespace": .string(namespace), "workloads": .array(workloads), "jobs": .array(jobs),
                "app_version": release?["metadata"]?["annotations"]?[Self.versionAnnotation] ?? .null,
            ]
            if let release {
                view["releases"] = ReleaseStatus.history(release, appVersion: release["metadata"]?["annotations"]?[Self.versionAnnotation] ?? .null)
                view["release_status"] = ReleaseStatus.describe(release)
            }
            return JSONValue.object(view).jsonText
        } catch {
            throw failure(error)
        }
    }
}
