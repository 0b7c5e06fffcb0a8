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
            let object = JobObject.make(job, namespace: namespace, containerTemplate: template)
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
            let log = try await podLog(pod)
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
    /// `output`. Best effort: the result's log is read in full anyway.
    func follow(job: String, until deadline: ContinuousClock.Instant, output: @Sendable (String) -> Void) async {
        var pod: String?
        while pod == nil, !Task.isCancelled, ContinuousClock.now < deadline {
            let found = try? await jobPod(job)
            let phase = found?["status"]?["phase"]?.stringValue
            if let name = found?["metadata"]?["name"]?.stringValue, phase != nil, phase != "Pending" { pod = name } else {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        guard let pod, !Task.isCancelled else { return }
        let left = max(deadline - ContinuousClock.now, .seconds(1))
        guard let body = try? await client.stream(Resource.pods.path(namespace: namespace, name: pod, subresource: "log"),
                                                  query: [("container", JobObject.container), ("follow", "true")], timeout: left) else { return }
        var lines = LineSplitter()
        do {
            for try await chunk in body {
                for line in lines.push(Array(buffer: chunk)) {
                    let text = String(decoding: line, as: UTF8.self)
                    if !JobObject.isMarker(text) { output(text) }
                }
            }
        } catch {
            return
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
        for status in pod["status"]?["containerStatuses"]?.arrayValue ?? [] {
            if let waiting = status["state"]?["waiting"], let reason = waiting["reason"]?.stringValue {
                let image = status["image"]?.stringValue.map { " (image \($0))" } ?? ""
                return reason + (waiting["message"]?.stringValue.map { ": " + $0 } ?? "") + image
            }
        }
        return nil
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
