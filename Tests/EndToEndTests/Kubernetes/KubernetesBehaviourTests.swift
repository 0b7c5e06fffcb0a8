import Foundation
import Testing

/// The situations of `../shared/cases/kubernetes-behaviours.md`, produced
/// by the test API server's behaviours and faults, with the outcome each should have.
@Suite("Kubernetes: what real clusters and Flux do")
struct KubernetesBehaviourTests {
    /// my-app deployed on the test server as `shop` at 0.1.0, its upgrade action replaced by `actions`.
    static func shop(_ workspace: Workspace, actions: String) async throws -> KubeTestServerProcess {
        let server = try await KubeTestServerProcess(directory: workspace.directory)
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: RenderTests.myApp, toPath: driver)
        try ("from styrmin_backend.actions import *\nfrom prefect import flow\n\n\n" + actions)
            .write(toFile: driver + "/actions.py", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig] + KubernetesHookTests.config).status == 0)
        #expect(try await workspace.run(["drivers", "load", driver]).status == 0)
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        return server
    }

    static func error(_ run: [String: Any]) -> String {
        ((run["error"] as? [String: Any])?["message"] as? String) ?? ""
    }

    static func requests(_ server: KubeTestServerProcess, verb: String, resource: String) async throws -> [[String: Any]] {
        try await server.requests().filter { $0["verb"] as? String == verb && $0["resource"] as? String == resource }
    }

    @Test("a HelmRelease showing the old Ready, then UpgradeFailed, fails the step with Flux's reason; other writers' annotations stay")
    func staleReadyThenFailed() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await upgrade_deployment_version(target_version=target_version, context=context, timeout=60)

            """)
        // Another writer's annotation on the release.
        var release = try #require(try await server.objects("HelmRelease", namespace: "shop").first)
        var metadata = release["metadata"] as? [String: Any] ?? [:]
        var annotations = metadata["annotations"] as? [String: Any] ?? [:]
        annotations["example.com/owner"] = "team-a"
        metadata["annotations"] = annotations
        release["metadata"] = metadata
        try await server.admin(.POST, "/_test/objects", json: release)
        try await server.admin(.POST, "/_test/behaviours", json: ["kind": "helmrelease_stale_ready_then_fail", "name": "shop", "stale_seconds": 1.5])
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 1, "never succeeds on the old Ready: \(upgrade.stdout)")
        let message = Self.error(try await workspace.runShow(2))
        #expect(message.contains("UpgradeFailed") && message.contains("HelmRelease shop/shop"), "\(message)")
        let after = try await server.objects("HelmRelease", namespace: "shop").first
        let kept = ((after?["metadata"] as? [String: Any])?["annotations"] as? [String: Any])?["example.com/owner"] as? String
        #expect(kept == "team-a", "\(after ?? [:])")
    }

    @Test("a release stuck in Progressing ends the step at its deadline saying what it waited for; once healthy, runs retry succeeds")
    func stuckRelease() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await upgrade_deployment_version(target_version=target_version, context=context, timeout=3)

            """)
        let behaviour = try await server.admin(.POST, "/_test/behaviours", json: ["kind": "helmrelease_stuck", "name": "shop"]) as? [String: Any]
        let id = try #require(((behaviour?["behaviours"] as? [[String: Any]])?.first?["id"]).map { "\($0)" })
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 1, "\(upgrade.stdout)")
        let message = Self.error(try await workspace.runShow(2))
        #expect(message.contains("timed out waiting for HelmRelease shop/shop to be Ready at generation 2") && message.contains("Progressing"),
                "\(message)")
        try await server.admin(.DELETE, "/_test/behaviours/\(id)")
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        #expect(try await Self.requests(server, verb: "patch", resource: "helmreleases").count == 1, "the retry changes no spec")
    }

    @Test("a command Job whose image cannot be pulled fails at its timeout naming the reason and image; the Job is deleted with Background")
    func imagePullBackOff() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await execute_commands(["echo migrate"], image="registry.bad/my-app:2", context=context, timeout=3)

            """)
        try await server.admin(.POST, "/_test/behaviours", json: ["kind": "image_pull_backoff", "image": "registry.bad/*"])
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 1, "\(upgrade.stdout)")
        let message = Self.error(try await workspace.runShow(2))
        #expect((message.contains("ImagePullBackOff") || message.contains("ErrImagePull")) && message.contains("registry.bad/my-app:2"), "\(message)")
        let deletes = try await Self.requests(server, verb: "delete", resource: "jobs")
        #expect(deletes.count == 1 && deletes.first?["propagationPolicy"] as? String == "Background", "\(deletes)")
        func jobPods(_ pods: [[String: Any]]) -> [[String: Any]] {
            pods.filter { ((($0["metadata"] as? [String: Any])?["labels"] as? [String: Any])?["job-name"]) != nil }
        }
        let left = jobPods(try await server.objects("Pod", namespace: "shop", waitingUntil: { jobPods($0).isEmpty }))
        #expect(left.isEmpty, "no pod of the Job is left: \(left)")
    }

    @Test("a component that never becomes ready times out naming its workload and what it waited for")
    func neverReady() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await stop_components(components=["server"], context=context)
                await start_components(components=["server"], context=context, timeout=3)

            """)
        try await server.admin(.POST, "/_test/behaviours", json: ["kind": "never_ready", "name": "shop-server"])
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 1, "\(upgrade.stdout)")
        let message = Self.error(try await workspace.runShow(2))
        #expect(message.contains("timed out waiting for Deployment shop/shop-server: 0 of 1 replicas ready"), "\(message)")
        #expect(message.contains("; pod shop-server-") && message.contains("not ready"), "the pod and why: \(message)")
    }

    @Test("a stop waits until no pod of the component is left, not only until its controller counts none")
    func stopWaitsForPods() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await stop_components(components=["server"], context=context)
                await execute_commands(["echo stopped"], image="my-app:0.1.0", context=context)

            """)
        // Terminating pods linger, as with a grace period.
        try await server.admin(.POST, "/_test/config", json: ["pod_terminate_delay": 1.5])
        try await server.admin(.POST, "/_test/requests/reset")
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let requests = try await server.requests()
        let podWaits = requests.filter { $0["resource"] as? String == "pods" && (($0["params"] as? [String: Any])?["labelSelector"] as? String ?? "").contains("my-app") }
        #expect(!podWaits.isEmpty, "the stop lists and watches the component's pods: \(requests.map { "\($0["verb"] ?? "") \($0["path"] ?? "")" })")
        let jobCreated = requests.firstIndex { $0["verb"] as? String == "create" && $0["resource"] as? String == "jobs" } ?? -1
        let lastPodWait = requests.lastIndex { $0["resource"] as? String == "pods" && (($0["params"] as? [String: Any])?["labelSelector"] as? String ?? "").contains("my-app") } ?? Int.max
        #expect(lastPodWait < jobCreated, "the next step starts after the pods are gone")
    }

    @Test("a command Job's output reaches the run's log while it runs, each line once")
    func jobOutputStreams() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await execute_commands(["echo first-line", "sleep 4", "echo second-line"], image="my-app:0.1.0", context=context, timeout=120)

            """)
        let upgrade = try workspace.start(["upgrade", "shop", "--to", "0.2.0"])
        defer { if upgrade.isRunning { kill(upgrade.processIdentifier, SIGKILL) } }
        var seenEarly = false
        let start = ContinuousClock.now
        while upgrade.isRunning, ContinuousClock.now - start < .seconds(90) {
            let logs = try await workspace.run(["runs", "logs", "2"]).stdout
            if logs.contains("first-line") && !logs.contains("second-line") { seenEarly = true }
            try await Task.sleep(for: .milliseconds(100))
        }
        let shown = try await workspace.run(["runs", "show", "2"]).stdout
        #expect(seenEarly, "the first command's output was in the log before the Job ended: \(shown)")
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout
        #expect(logs.components(separatedBy: "first-line").count == 2 && logs.components(separatedBy: "second-line").count == 2, "\(logs)")
        #expect(!logs.contains("::flowrunner:command:"), "\(logs)")
        withExtendedLifetime(server) {}
    }

    @Test("429 with Retry-After, a 500, a 409 on a write, a cut watch and an expired version are survived, without a storm of writes")
    func throttledCutAndExpired() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await stop_components(components=["server"], context=context)
                await upgrade_deployment_version(target_version=target_version, context=context, timeout=60)
                await start_components(components=["server"], context=context)

            """)
        try await server.admin(.POST, "/_test/requests/reset")
        try await server.admin(.POST, "/_test/faults", json: [
            ["method": "PATCH", "path": "/helmreleases/shop$", "action": "status", "code": 429, "retry_after": 1, "count": 1],
            ["method": "GET", "path": "/helmreleases$", "watch": true, "action": "drop", "after_events": 0, "count": 1],
            ["method": "GET", "path": "/helmreleases$", "watch": true, "action": "expire", "count": 1],
            ["method": "GET", "path": "/deployments$", "watch": false, "action": "status", "code": 500, "count": 1],
            ["method": "PATCH", "path": "/deployments/shop-server/scale$", "action": "status", "code": 409, "reason": "Conflict", "count": 1],
        ])
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        // A request the server answered with an injected fault has no verb in its log: count by method and path.
        let patches = try await server.requests().filter { $0["method"] as? String == "PATCH" && ($0["path"] as? String ?? "").hasSuffix("/helmreleases/shop") }
        #expect(patches.map { $0["status"] as? Int } == [429, 200], "the throttled patch and its one retry: \(patches)")
        let watches = try await server.requests().filter { $0["verb"] as? String == "watch" }
        #expect(!watches.isEmpty && watches.allSatisfy { (($0["params"] as? [String: Any])?["timeoutSeconds"]) != nil }, "every watch carries timeoutSeconds: \(watches)")
        let lists = try await Self.requests(server, verb: "list", resource: "helmreleases")
        #expect(lists.count >= 2, "a 410 lists again: \(lists)")
    }

    @Test("a Deployment whose controller lags the new generation is waited for before the next step starts")
    func observedGenerationLag() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await upgrade_deployment_version(target_version=target_version, context=context, timeout=60)
                await execute_commands(["echo next"], image="my-app:0.1.0", context=context)

            """)
        // The old status (the old generation's ready replicas) stays for 2 s after the chart changes the pod template.
        try await server.admin(.POST, "/_test/behaviours", json: ["kind": "observed_generation_lag", "name": "shop-server", "seconds": 2])
        try await server.admin(.POST, "/_test/requests/reset")
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let requests = try await server.requests()
        let patched = requests.first { $0["method"] as? String == "PATCH" && ($0["path"] as? String ?? "").hasSuffix("/helmreleases/shop") }
        let next = requests.first { $0["verb"] as? String == "create" && $0["resource"] as? String == "jobs" }
        let gap = ((next?["time"] as? Double) ?? 0) - ((patched?["time"] as? Double) ?? .infinity)
        #expect(gap >= 1.9, "the next step started \(gap) s after the upgrade's patch, inside the 2 s the Deployment's status lagged")
    }

    @Test("a run cancelled while its command Job runs ends cancelled, and the Job is deleted with Background propagation")
    func cancelDeletesJob() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await execute_commands(["sleep 60"], image="my-app:0.1.0", context=context, timeout=120)
                await start_components(components=["server"], context=context)

            """)
        let upgrade = try workspace.start(["upgrade", "shop", "--to", "0.2.0"])
        defer { if upgrade.isRunning { kill(upgrade.processIdentifier, SIGKILL) } }
        let jobs = try await server.objects("Job", namespace: "shop", waitingUntil: { !$0.isEmpty })
        #expect(jobs.count == 1)
        #expect(try await workspace.run(["runs", "cancel", "2"]).status == 0)
        try await waitUntil(.seconds(60)) { !upgrade.isRunning }
        #expect(try await workspace.runShow(2)["status"] as? String == "cancelled")
        let deletes = try await Self.requests(server, verb: "delete", resource: "jobs")
        #expect(deletes.count == 1 && deletes.first?["propagationPolicy"] as? String == "Background", "\(deletes)")
        let scales = try await server.requests().filter { $0["subresource"] as? String == "scale" }
        #expect(scales.isEmpty, "later steps never start: \(scales)")
    }

    @Test("an engine killed while its Job runs: the retry adopts the Job by its name, created once and never deleted")
    func killedEngineAdoptsJob() async throws {
        let workspace = Workspace()
        let server = try await Self.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                result = await execute_commands(["sleep 3", "echo migrated"], image="my-app:0.1.0", context=context, timeout=120)
                assert "migrated" in result["output"], result

            """)
        let upgrade = try workspace.start(["upgrade", "shop", "--to", "0.2.0"])
        _ = try await server.objects("Job", namespace: "shop", waitingUntil: { !$0.isEmpty })
        kill(upgrade.processIdentifier, SIGKILL)
        try await waitUntil(.seconds(30)) { !upgrade.isRunning }
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        #expect(try await server.objects("Job", namespace: "shop").count == 1)
        let creates = try await Self.requests(server, verb: "create", resource: "jobs")
        #expect(creates.filter { $0["status"] as? Int == 201 }.count == 1, "created once: \(creates)")
        #expect(try await Self.requests(server, verb: "delete", resource: "jobs").isEmpty, "never deleted")
        let logs = try await workspace.run(["runs", "show", "2", "--output", "json"])
        #expect(logs.stdout.contains("migrated"), "the Job's log is the step's output: \(logs.stdout)")
    }
}
