import Foundation
import Testing

/// The seed my-app on a Kubernetes cluster (the test API server): the same
/// hooks and steps as on the simulated cluster, acting through the REST API.
@Suite("Kubernetes: hooks acting on a cluster through its API")
struct KubernetesHookTests {
    /// What the guide's my-app needs of a cluster: where its chart is, and an ingress class.
    static let config = ["--config", "chart_repository=oci://registry.test/charts", "--config", "ingress_class=nginx"]

    /// A workspace with the test API server registered as cluster `lab`, and my-app loaded.
    static func lab(_ workspace: Workspace) async throws -> KubeTestServerProcess {
        let server = try await KubeTestServerProcess(directory: workspace.directory)
        let added = try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig,
                                             "--config", "fqdn_suffix=apps.lab.test"] + config)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try await workspace.run(["drivers", "load", RenderTests.myApp]).status == 0)
        return server
    }

    @Test("my-app is deployed and upgraded on Kubernetes with the same steps as on the simulated cluster")
    func deployAndUpgrade() async throws {
        let workspace = Workspace()
        let server = try await Self.lab(workspace)
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab",
                                                "--args", #"server=["--workers","2"]"#])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        let releases = try await server.objects("HelmRelease", namespace: "shop")
        let values = (releases.first?["spec"] as? [String: Any])?["values"] as? [String: Any]
        #expect(((values?["image"] as? [String: Any])?["tag"] as? String) == "0.1.0", "\(releases)")
        #expect(values?["args"] as? [String] == ["--workers", "2"])
        let sources = try await server.objects("OCIRepository", namespace: "shop")
        #expect((sources.first?["spec"] as? [String: Any])?["url"] as? String == "oci://registry.test/charts/my-app", "\(sources)")

        let upgraded = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgraded.status == 0, "\(upgraded.stdout)\(upgraded.stderr)")
        let run = try await workspace.runShow(2)
        let steps = ((run["actions"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "" }
        #expect(steps == ["stop_components", "upgrade_deployment_version", "get_component_images", "execute_commands", "start_components"], "\(run)")
        let deployments = try await server.objects("Deployment", namespace: "shop")
        let server0 = deployments.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "shop-server" }
        let template = ((server0?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        #expect(((template?["containers"] as? [[String: Any]])?.first?["image"] as? String) == "my-app:0.2.0", "\(server0 ?? [:])")
        #expect((server0?["spec"] as? [String: Any])?["replicas"] as? Int == 1, "started again with the remembered count")
        let jobs = try await server.objects("Job", namespace: "shop")
        #expect(jobs.count == 1, "one Job for the upgrade's command: \(jobs)")
        let labels = (jobs.first?["metadata"] as? [String: Any])?["labels"] as? [String: Any]
        #expect(labels?["flowrunner.io/run"] as? String == "2" && labels?["app.kubernetes.io/name"] as? String == "my-app", "\(labels ?? [:])")
        #expect((jobs.first?["spec"] as? [String: Any])?["backoffLimit"] as? Int == 0)
        #expect((jobs.first?["spec"] as? [String: Any])?["activeDeadlineSeconds"] as? Int == 600, "the step's default timeout")
        let job = ((jobs.first?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        #expect(((job?["containers"] as? [[String: Any]])?.first?["image"] as? String) == "my-app:0.2.0")

        let shown = try await workspace.json(["deployments", "show", "shop", "--output", "json"]) as? [String: Any]
        let cluster = shown?["cluster"] as? [String: Any]
        #expect(cluster?["app_version"] as? String == "0.2.0", "\(shown ?? [:])")
        // Helm's revisions as Flux reports them, oldest first; the newest with the values the release holds.
        let history = cluster?["releases"] as? [[String: Any]] ?? []
        #expect(history.map { $0["revision"] as? Int } == [1, 2], "\(history)")
        #expect(((history.last?["values"] as? [String: Any])?["image"] as? [String: Any])?["tag"] as? String == "0.2.0", "\(history)")
    }

    @Test("a wrong CA and a wrong token fail the run with errors naming the cluster")
    func wrongCredentials() async throws {
        let workspace = Workspace()
        let server = try await Self.lab(workspace)
        // The token context with another token; and a kubeconfig trusting another CA.
        var text = try String(contentsOfFile: server.kubeconfig, encoding: .utf8)
        let token = try String(contentsOfFile: server.directory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        text = text.replacingOccurrences(of: token, with: "not-the-token")
        let badToken = workspace.directory + "/bad-token.yml"
        try text.write(toFile: badToken, atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["clusters", "add", "tokenless", "--kubernetes", "--kubeconfig", badToken, "--context", "kube-test-token"] + Self.config).status == 0)
        let refused = try await workspace.run(["deploy", "a", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "tokenless"])
        #expect(refused.status == 1 && refused.stdout.contains("cluster tokenless") && refused.stdout.contains("401"), "\(refused.stdout)\(refused.stderr)")

        let otherCA = try String(contentsOfFile: server.directory + "/untrusted-ca.crt", encoding: .utf8)
        var yaml = try String(contentsOfFile: server.kubeconfig, encoding: .utf8)
        if let range = yaml.range(of: #"certificate-authority-data: \S+"#, options: .regularExpression) {
            yaml.replaceSubrange(range, with: "certificate-authority-data: " + Data(otherCA.utf8).base64EncodedString())
        }
        let badCA = workspace.directory + "/bad-ca.yml"
        try yaml.write(toFile: badCA, atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["clusters", "add", "untrusted", "--kubernetes", "--kubeconfig", badCA] + Self.config).status == 0)
        let tls = try await workspace.run(["deploy", "b", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "untrusted"])
        #expect(tls.status == 1 && tls.stdout.contains("cluster untrusted") && tls.stdout.contains("not signed by the CA"), "\(tls.stdout)\(tls.stderr)")
    }
}
