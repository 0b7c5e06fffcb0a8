import DriverSpec
import FlowModel
@testable import KubernetesCluster
import Primitives
import Testing

@Suite("Reading workload, release and Job status as the Kubernetes API and Flux report them")
struct StatusReadingTests {
    func deployment(generation: Int, observed: Int, replicas: Int, ready: Int, updated: Int, existing: Int) -> JSONValue {
        ["metadata": ["name": "web", "generation": .int(generation)],
         "spec": ["replicas": .int(replicas)],
         "status": ["observedGeneration": .int(observed), "readyReplicas": .int(ready), "updatedReplicas": .int(updated), "replicas": .int(existing)]]
    }

    @Test("a workload is settled only at the current generation with updated = ready = desired; 0 desired means no pod")
    func workloadSettled() {
        #expect(WorkloadStatus.unsettled(deployment(generation: 3, observed: 3, replicas: 2, ready: 2, updated: 2, existing: 2)) == nil)
        // The old ReplicaSet's ready pods while the controller has not seen the new generation.
        let lagging = WorkloadStatus.unsettled(deployment(generation: 4, observed: 3, replicas: 2, ready: 2, updated: 2, existing: 2))
        #expect(lagging == "its controller has observed generation 3 of 4")
        #expect(WorkloadStatus.unsettled(deployment(generation: 4, observed: 4, replicas: 2, ready: 2, updated: 1, existing: 3)) == "2 of 2 replicas ready, 1 updated")
        #expect(WorkloadStatus.unsettled(deployment(generation: 5, observed: 5, replicas: 0, ready: 0, updated: 0, existing: 1)) == "1 pod(s) left of 0 wanted")
        #expect(WorkloadStatus.unsettled(["metadata": ["generation": 2], "spec": ["replicas": 0], "status": ["observedGeneration": 2]]) == nil,
                "a status without zero counts (the API leaves them out)")
    }

    func release(generation: Int, conditions: [JSONValue]) -> JSONValue {
        ["metadata": ["name": "shop", "namespace": "shop", "generation": .int(generation)], "status": ["conditions": .array(conditions)]]
    }

    @Test("a release is done only on Ready=True at the current generation; a failure there fails at once; anything else is waited for")
    func releaseVerdict() {
        let stale = release(generation: 2, conditions: [["type": "Ready", "status": "True", "reason": "InstallSucceeded", "observedGeneration": 1]])
        guard case .waiting(let text) = ReleaseStatus.verdict(stale, name: "shop") else {
            Issue.record("an old Ready must not count")
            return
        }
        #expect(text.contains("to be Ready at generation 2") && text.contains("observed generation 1"), "\(text)")
        let ready = release(generation: 2, conditions: [["type": "Ready", "status": "True", "observedGeneration": 2]])
        #expect(ReleaseStatus.verdict(ready, name: "shop") == .done)
        let failed = release(generation: 2, conditions: [
            ["type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "context deadline exceeded", "observedGeneration": 2],
            ["type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "Failed to upgrade after 1 attempt(s)", "observedGeneration": 2],
        ])
        #expect(ReleaseStatus.verdict(failed, name: "shop")
                == .failed("HelmRelease shop/shop failed: UpgradeFailed: context deadline exceeded (stalled: RetriesExceeded: Failed to upgrade after 1 attempt(s))"))
        let progressing = release(generation: 3, conditions: [["type": "Ready", "status": "Unknown", "reason": "Progressing", "observedGeneration": 3]])
        guard case .waiting = ReleaseStatus.verdict(progressing, name: "shop") else {
            Issue.record("Progressing is waited for")
            return
        }
        #expect(ReleaseStatus.verdict(nil, name: "shop") == .waiting("HelmRelease shop to exist"))
    }

    @Test("a Job's log is split per command by its markers; the failed command gets the container's exit code")
    func jobResult() {
        let commands = ["echo a", "false", "echo c"]
        let log = "::flowrunner:command:1::\na\n::flowrunner:command:2::\noops\n"
        let pod: JSONValue = ["status": ["containerStatuses": [["state": ["terminated": ["exitCode": 1]]]]]]
        let result = JobObject.result(commands: commands, log: log, pod: pod)
        #expect(result.commands.map(\.command) == ["echo a", "false"])
        #expect(result.commands.map(\.exitCode) == [0, 1] && result.commands.map(\.output) == ["a", "oops"])
        #expect(result.failure?.command == "false")
        let fine = JobObject.result(commands: ["echo x"], log: "::flowrunner:command:1::\nx\n",
                                    pod: ["status": ["containerStatuses": [["state": ["terminated": ["exitCode": 0]]]]]])
        #expect(fine.failure == nil && fine.commands.first?.output == "x")
        #expect(JobObject.isMarker("::flowrunner:command:12::") && !JobObject.isMarker("a line"))
    }

    @Test("the Job runs each command in a sh of its own, stopping at the first failure, with backoffLimit 0 and the step's deadline")
    func jobObject() {
        var spec = JobSpec(name: "fr-1-up-2-a1", image: "app:1", commands: ["migrate", "echo done"], environment: ["A": "1"],
                           labels: ["flowrunner.io/run": "1"])
        spec.timeout = .milliseconds(2500)
        let job = JobObject.make(spec, namespace: "shop")
        #expect(job["spec"]?["backoffLimit"] == 0 && job["spec"]?["activeDeadlineSeconds"] == 3)
        let container = job["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first
        #expect(container?["command"]?.arrayValue?.prefix(2) == ["/bin/sh", "-c"])
        #expect(container?["command"]?.arrayValue?.last?.stringValue
                == "echo '::flowrunner:command:1::'\n/bin/sh -c 'migrate' || exit $?\necho '::flowrunner:command:2::'\n/bin/sh -c 'echo done' || exit $?\n")
        #expect(JobObject.shellQuoted("it's") == #"'it'\''s'"#)
        #expect(JobObject.commands(of: job) == ["migrate", "echo done"])
        #expect(job["spec"]?["template"]?["spec"]?["restartPolicy"] == "Never")
    }

    @Test("a bare chart name is looked up under chart_repository; without one, the error names both")
    func chartSource() throws {
        let chart = HelmChartFixture.bare
        #expect(throws: KubernetesError.self) { try ChartSource.resolve(chart, config: [:], cluster: "prod") }
        let oci = try ChartSource.resolve(chart, config: ["chart_repository": "oci://reg.example/charts/"], cluster: "prod")
        #expect(oci.kind == "OCIRepository" && oci.url == "oci://reg.example/charts/my-app" && oci.version == "0.1.0")
        let https = try ChartSource.resolve(chart, config: ["chart_repository": "https://charts.example"], cluster: "prod")
        #expect(https.kind == "HelmRepository" && https.url == "https://charts.example" && https.chart == "my-app")
    }
}

/// The guide's chart reference: a bare name.
enum HelmChartFixture {
    static let bare = HelmChart(location: "my-app", version: "0.1.0")
}
