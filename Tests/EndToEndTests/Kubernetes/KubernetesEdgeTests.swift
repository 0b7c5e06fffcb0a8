import Foundation
import Testing

/// The Kubernetes backend where drivers, operators and clusters do the
/// unexpected: commands that change their shell, labels shared with Jobs,
/// namespaces shared by deployments, credentials that are not tokens.
@Suite("Kubernetes: edges found by trying it")
struct KubernetesEdgeTests {
    static func error(_ workspace: Workspace, run: Int) async throws -> [String: Any] {
        (try await workspace.runShow(run)["error"] as? [String: Any]) ?? [:]
    }

    @Test("each command runs in a shell of its own: `set +e` or `exit 0` in one cannot hide the failure of the next")
    func commandsInTheirOwnShell() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                if target_version == "0.2.0":
                    await execute_commands(["set +e", "false", "echo AFTER-FALSE"], image="my-app:1", context=context)
                else:
                    await execute_commands(["exit 0", "false", "echo NEVER"], image="my-app:1", context=context)

            """)
        for (run, version) in [(2, "0.2.0"), (3, "0.3.0")] {
            let upgrade = try await workspace.run(["upgrade", "shop", "--to", version])
            #expect(upgrade.status == 1, "\(upgrade.stdout)")
            let error = try await Self.error(workspace, run: run)
            #expect(error["type"] as? String == "CommandFailed" && (error["message"] as? String)?.contains("command \"false\" exited with status 1") == true,
                    "\(error)")
        }
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout + (try await workspace.run(["runs", "logs", "3"]).stdout)
        #expect(!logs.contains("AFTER-FALSE") && !logs.contains("NEVER"), "no command runs after a failed one: \(logs)")
        withExtendedLifetime(server) {}
    }

    @Test("a stop is not held by a finished Job pod that carries the component's labels")
    func finishedJobPodsDoNotHoldAStop() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await stop_components(components=["server"], context=context, timeout=20)
                await execute_commands(["echo migrate"], image="my-app:1", labels_from_component="server", context=context)
                await start_components(components=["server"], context=context)

            """)
        for version in ["0.2.0", "0.3.0"] {
            let upgrade = try await workspace.run(["upgrade", "shop", "--to", version])
            #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        }
        withExtendedLifetime(server) {}
    }

    @Test("the component's environment reaches the Job as the cluster has it: Secret references and envFrom too")
    func environmentReferencesCopied() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await execute_commands(["echo migrate"], image="my-app:1", env_from_component="server", context=context)

            """)
        var deployment = try #require(try await server.objects("Deployment", namespace: "shop").first {
            ($0["metadata"] as? [String: Any])?["name"] as? String == "shop-server"
        })
        var spec = deployment["spec"] as? [String: Any] ?? [:]
        var template = spec["template"] as? [String: Any] ?? [:]
        var podSpec = template["spec"] as? [String: Any] ?? [:]
        var containers = podSpec["containers"] as? [[String: Any]] ?? []
        containers[0]["env"] = [
            ["name": "PLAIN", "value": "yes"],
            ["name": "DB_PASSWORD", "valueFrom": ["secretKeyRef": ["name": "db", "key": "password"]]],
        ]
        containers[0]["envFrom"] = [["configMapRef": ["name": "settings"]]]
        podSpec["containers"] = containers
        template["spec"] = podSpec
        spec["template"] = template
        deployment["spec"] = spec
        try await server.admin(.POST, "/_test/objects", json: deployment)
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let job = try #require(try await server.objects("Job", namespace: "shop").first)
        let container = ((((job["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first
        let env = container?["env"] as? [[String: Any]] ?? []
        #expect(env.contains { $0["name"] as? String == "PLAIN" && $0["value"] as? String == "yes" }, "\(env)")
        #expect(env.contains { $0["name"] as? String == "DB_PASSWORD" && $0["valueFrom"] != nil }, "\(env)")
        #expect((container?["envFrom"] as? [[String: Any]])?.count == 1, "\(container ?? [:])")
    }

    @Test("two deployments in one namespace: stopping one leaves the other's workloads alone")
    func sharedNamespace() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await stop_components(components=["server"], context=context)

            """)
        let second = try await workspace.run(["deploy", "shop2", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab",
                                              "--config", "namespace=shop"])
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(try await workspace.run(["upgrade", "shop2", "--to", "0.2.0"]).status == 0)
        let deployments = try await server.objects("Deployment", namespace: "shop")
        func replicas(_ name: String) -> Int? {
            (deployments.first { ($0["metadata"] as? [String: Any])?["name"] as? String == name }?["spec"] as? [String: Any])?["replicas"] as? Int
        }
        #expect(replicas("shop2-server") == 0 && replicas("shop-server") == 1, "\(deployments.map { $0["metadata"] ?? "" })")
    }

    @Test("a retry after Flux gave up asks it to reconcile again: once the cause is gone, the retry succeeds without a spec change")
    func retryRequestsReconcile() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await upgrade_deployment_version(target_version=target_version, context=context, timeout=60)

            """)
        let added = try await server.admin(.POST, "/_test/behaviours", json: ["kind": "helmrelease_stale_ready_then_fail", "name": "shop", "stale_seconds": 0.5])
        let id = try #require((((added as? [String: Any])?["behaviours"] as? [[String: Any]])?.first?["id"]).map { "\($0)" })
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 1)
        try await server.admin(.DELETE, "/_test/behaviours/\(id)")
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        let release = try await server.objects("HelmRelease", namespace: "shop").first
        let annotations = (release?["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
        #expect(annotations?["reconcile.fluxcd.io/requestedAt"] != nil, "\(annotations ?? [:])")
    }

    @Test("clearing an override removes it from the release's values (the chart's default applies), not a null that Helm would keep")
    func clearedOverrideLeavesValues() async throws {
        let workspace = Workspace()
        let server = try await KubernetesBehaviourTests.shop(workspace, actions: """
            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                await upgrade_deployment_version(target_version=target_version, context=context)

            """)
        // The Infrahub pattern: the override when set, a literal null when unset.
        let template = """
            image: {repository: my-app, tag: "{{ app.version }}"}
            {%- if components | component_args("server") %}
            args: {{ components | component_args("server") | tojson }}
            {%- else %}
            args: null
            {%- endif %}

            """
        try template.write(toFile: workspace.directory + "/my-app/values.j2.yml", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["drivers", "load", workspace.directory + "/my-app"]).status == 0)
        #expect(try await workspace.run(["deployments", "set", "shop", "--args", #"server=["--worker"]"#]).status == 0)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0", "--driver-version", "latest"]).status == 0)
        func values() async throws -> [String: Any] {
            ((try await server.objects("HelmRelease", namespace: "shop").first?["spec"] as? [String: Any])?["values"] as? [String: Any]) ?? [:]
        }
        #expect(try await values()["args"] as? [String] == ["--worker"])
        #expect(try await workspace.run(["deployments", "set", "shop", "--args", "server=null"]).status == 0)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        let cleared = try await values()
        #expect(cleared["args"] == nil && (cleared["image"] as? [String: Any])?["tag"] as? String == "0.2.0", "\(cleared)")
        // Nothing changed since: no new generation.
        let generation = ((try await server.objects("HelmRelease", namespace: "shop").first?["metadata"] as? [String: Any])?["generation"] as? Int)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        let after = ((try await server.objects("HelmRelease", namespace: "shop").first?["metadata"] as? [String: Any])?["generation"] as? Int)
        #expect(generation != nil && generation == after, "an unchanged upgrade patches nothing")
    }

    @Test("names and credentials Kubernetes would refuse are refused before anything is stored, and a token is never printed")
    func refusedBeforeStored() async throws {
        let workspace = Workspace()
        let server = try await KubernetesHookTests.lab(workspace)
        for name in ["My_App", "a.b", "UPPER"] {
            let refused = try await workspace.run(["deploy", name, "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab"])
            #expect(refused.status == 2 && refused.stderr.contains("Kubernetes cluster lab"), "\(name): \(refused.stderr)")
        }
        #expect((try await workspace.json(["deployments", "list", "--output", "json"]) as? [Any])?.isEmpty == true)
        let secret = "REAL-TOKEN-4713"
        var kubeconfig = try String(contentsOfFile: server.kubeconfig, encoding: .utf8)
        let token = try String(contentsOfFile: server.directory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        kubeconfig = kubeconfig.replacingOccurrences(of: "token: \"\(token)\"", with: "token: \"\(secret)\\n# rotated\"")
        #expect(kubeconfig.contains(secret))
        try kubeconfig.write(toFile: workspace.directory + "/newline-token.yml", atomically: true, encoding: .utf8)
        let added = try await workspace.run(["clusters", "add", "nl", "--kubernetes", "--kubeconfig", workspace.directory + "/newline-token.yml",
                                             "--context", "kube-test-token"])
        #expect(added.status == 2 && added.stderr.contains("is not a bearer token") && !added.stderr.contains(secret), "\(added.stderr)")
    }

    @Test("deployments show says why a cluster's view is missing when its API server is gone")
    func unreachableClusterView() async throws {
        let workspace = Workspace()
        var server: KubeTestServerProcess? = try await KubernetesHookTests.lab(workspace)
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab"]).status == 0)
        server = nil
        try await Task.sleep(for: .seconds(1))
        let shown = try await workspace.run(["deployments", "show", "shop", "--output", "json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        #expect(report?["cluster"] is NSNull && (report?["cluster_error"] as? String)?.contains("cluster lab") == true, "\(shown.stdout)")
        let text = try await workspace.run(["deployments", "show", "shop"])
        #expect(text.stdout.contains("Cluster lab: not shown ("), "\(text.stdout)")
        _ = server
    }
}
