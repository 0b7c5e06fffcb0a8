import FlowModel
import Foundation
import NIOCore
public import Primitives

/// `execute_commands` on Kubernetes: a `batch/v1` Job (``JobObject``) named
/// after run, action and step, adopted when it exists, its pod's log
/// followed while it runs and read in full at the end.
extension KubernetesBackend {
    public func startJob(_ job: JobSpec) async throws(ClusterError) -> JobState {
        do {
            // The component's container environment as its pod template has it: Secret and field references, envFrom.
            var template: JSONValue?
            if let source = job.environmentSource {
                template = try await listWorkloads(selector: Self.selector(source)).first?.object["spec"]?["template"]?["spec"]?["containers"]?
                    .arrayValue?.first
            }
            let object = JobObject.make(job, namespace: namespace, containerTemplate: template, ownerLabels: labels)
            let answer = try await client.send(.POST, Resource.jobs.path(namespace: namespace), body: object, accept: [409])
            return answer.status == 409 ? .adopted : .created
        } catch {
            throw failure(error)
        }
    }

    public func waitForJob(named name: String, timeout: Duration, output: (@Sendable (String) -> Void)?) async throws(ClusterError) -> JobResult {
        let deadline = ContinuousClock.now + timeout
        // The pod's log, line by line while it runs: the step's log lines (`runs logs --follow`).
        let follower = output.map { output in Task { await self.follow(job: name, until: deadline, output: output) } }
        defer { follower?.cancel() }
        do {
            let namespace = namespace
            let jobs = try await ListWatch(client: client, resource: .jobs, namespace: namespace, fieldSelector: "metadata.name=" + name)
                .wait(until: deadline) { objects in
                    guard let job = objects[name] else { return .failed("Job \(namespace)/\(name) is gone (deleted by someone else?)") }
                    return JobObject.finished(job) ? .done : .waiting("Job \(namespace)/\(name) to finish")
                }
            let pod = try await jobPod(name)
            // The followed log is the whole log once its stream ended with the container; else it is read again.
            let followed = await Self.value(of: follower, within: .seconds(5))
            let log: String
            if let followed, followed.pod == pod?["metadata"]?["name"]?.stringValue { log = followed.log } else { log = try await podLog(pod) }
            return JobObject.result(commands: JobObject.commands(of: jobs[name]), log: log, pod: pod)
        } catch {
            if error.code == .timeout, let reason = try? await podWaitingReason(name) {
                throw ClusterError(.timeout, "\(error.message); its pod is waiting: \(reason)")
            }
            throw failure(error)
        }
    }

    /// Follows the log of the Job's pod until its container ends (or the
    /// task is cancelled), handing each line but the command markers to
    /// `output`. Returns the pod and its whole log when the stream ended with
    /// the container; nil when it did not (then the log is read again).
    func follow(job: String, until deadline: ContinuousClock.Instant, output: @Sendable (String) -> Void) async -> (pod: String, log: String)? {
        // The pod once it has started (its log exists then), by watch.
        let started = try? await ListWatch(client: client, resource: .pods, namespace: namespace, labelSelector: "job-name=" + job)
            .wait(until: deadline) { pods in
                pods.values.contains { ($0["status"]?["phase"]?.stringValue ?? "Pending") != "Pending" } ? .done : .waiting("the pod of Job \(job) to start")
            }
        guard let pod = started?.filter({ ($0.value["status"]?["phase"]?.stringValue ?? "Pending") != "Pending" }).keys.sorted().last,
              !Task.isCancelled else { return nil }
        let left = max(deadline - ContinuousClock.now, .seconds(1))
        guard let body = try? await client.stream(Resource.pods.path(namespace: namespace, name: pod, subresource: "log"),
                                                  query: [("container", JobObject.container), ("follow", "true")], timeout: left) else { return nil }
        var lines = LineSplitter()
        var whole: [UInt8] = []
        do {
            for try await chunk in body {
                let bytes = Array(buffer: chunk)
                if whole.count < KubernetesClient.maximumBody { whole += bytes }
                for line in lines.push(bytes) {
                    let text = String(decoding: line, as: UTF8.self)
                    if !JobObject.isMarker(text) { output(text) }
                }
            }
        } catch {
            return nil
        }
        return Task.isCancelled || whole.count >= KubernetesClient.maximumBody ? nil : (pod, String(decoding: whole, as: UTF8.self))
    }

    /// What `task` returns, if it does within `limit` (it is cancelled then).
    static func value<T: Sendable>(of task: Task<T?, Never>?, within limit: Duration) async -> T? {
        guard let task else { return nil }
        return await withTaskGroup(of: T?.self) { group in
            group.addTask { await task.value }
            group.addTask {
                try? await Task.sleep(for: limit)
                task.cancel()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The newest pod of a Job.
    func jobPod(_ job: String) async throws(KubernetesError) -> JSONValue? {
        let pods = try await client.send(.GET, Resource.pods.path(namespace: namespace), query: [("labelSelector", "job-name=" + job)]).body
        return (pods["items"]?.arrayValue ?? []).max { ($0["metadata"]?["creationTimestamp"]?.stringValue ?? "") < ($1["metadata"]?["creationTimestamp"]?.stringValue ?? "") }
    }

    func podLog(_ pod: JSONValue?) async throws(KubernetesError) -> String {
        guard let name = pod?["metadata"]?["name"]?.stringValue else { return "" }
        let answer = try await client.sendText(Resource.pods.path(namespace: namespace, name: name, subresource: "log"),
                                               query: [("container", JobObject.container)])
        return answer
    }

    /// Why a Job's pod is not running (`ImagePullBackOff: ... image x`), if it waits.
    func podWaitingReason(_ job: String) async throws(KubernetesError) -> String? {
        guard let pod = try await jobPod(job) else { return nil }
        return WorkloadStatus.waitingContainer(of: pod)?.reason
    }

    public func deleteJob(named name: String) async throws(ClusterError) {
        do {
            _ = try await client.send(.DELETE, Resource.jobs.path(namespace: namespace, name: name),
                                      body: ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"], accept: [404])
        } catch {
            throw failure(error)
        }
    }
}
