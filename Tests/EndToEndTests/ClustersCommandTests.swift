import Foundation
import Testing

/// `flowrunner clusters add|list|show` and a cluster's configuration as the
/// first layer of `instance.config` (DESIGN.md "Clusters").
@Suite("Clusters: registration and configuration layers")
struct ClustersCommandTests {
    /// A kubeconfig with a token user, an `exec` user and a context naming a missing cluster.
    static func kubeconfig(_ workspace: Workspace) throws -> String {
        let path = workspace.directory + "/kubeconfig.yml"
        try """
            apiVersion: v1
            kind: Config
            current-context: admin
            clusters:
            - name: lab
              cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: "aGVsbG8="}
            users:
            - name: robot
              user: {token: abc}
            - name: cloud
              user: {exec: {command: aws}}
            contexts:
            - name: admin
              context: {cluster: lab, user: robot}
            - name: cloudy
              context: {cluster: lab, user: cloud}
            - name: orphan
              context: {cluster: gone, user: robot}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("add reads the kubeconfig as a connection would and refuses, naming the file and entry, what it cannot use")
    func addValidates() async throws {
        let workspace = Workspace()
        let file = try Self.kubeconfig(workspace)
        for (arguments, message) in [
            (["--kubeconfig", workspace.directory + "/missing"], "cannot read kubeconfig \(workspace.directory)/missing"),
            (["--kubeconfig", file, "--context", "nope"], "has no context \"nope\" (contexts: admin, cloudy, orphan)"),
            (["--kubeconfig", file, "--context", "cloudy"], "user \"cloud\" uses `exec` credentials"),
            (["--kubeconfig", file, "--context", "orphan"], "context \"orphan\" names cluster \"gone\", which is not in its clusters"),
            (["--in-cluster"], "not running in a Kubernetes pod"),
            (["--in-cluster", "--kubeconfig", file], "--in-cluster uses the pod's service account"),
            ([String](), "cannot read kubeconfig"),
        ] {
            // Without --kubeconfig: ~/.kube/config, which this HOME does not have.
            let refused = try await FlowRunnerBinary.run(["clusters", "add", "lab", "--kubernetes"] + arguments,
                                                         environment: workspace.environment.merging(["HOME": workspace.directory, "KUBECONFIG": ""]) { $1 })
            #expect(refused.status == 2 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
        }
        let notKind = try await workspace.run(["clusters", "add", "lab", "--kubeconfig", file])
        #expect(notKind.status == 2 && notKind.stderr.contains("--kubernetes"), "\(notKind.stderr)")
        let badName = try await workspace.run(["clusters", "add", "Lab_1", "--kubernetes", "--kubeconfig", file])
        #expect(badName.status == 2 && badName.stderr.contains("invalid cluster name \"Lab_1\""), "\(badName.stderr)")
        let listed = try await workspace.json(["clusters", "list", "--output", "json"]) as? [[String: Any]]
        #expect(listed?.map { $0["name"] as? String } == ["simulated"], "nothing was stored: \(listed ?? [])")

        // Without --context, the kubeconfig's current context is named, so a later `kubectl config use-context` does not move the cluster.
        let added = try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", file, "--config", "fqdn_suffix=apps.lab.example"])
        #expect(added.status == 0, "\(added.stderr)")
        let shown = try await workspace.json(["clusters", "show", "lab", "--output", "json"]) as? [String: Any]
        #expect(shown?["context"] as? String == "admin" && shown?["kubeconfig"] as? String == file && shown?["kind"] as? String == "kubernetes")
        #expect((shown?["config"] as? [String: Any])?["fqdn_suffix"] as? String == "apps.lab.example")
        let raw = try await workspace.run(["clusters", "show", "lab", "--output", "json"])
        #expect(!raw.stdout.contains("abc") && !raw.stdout.contains("aGVsbG8="), "no credential is stored or shown: \(raw.stdout)")
        for name in ["lab", "simulated"] {
            let again = try await workspace.run(["clusters", "add", name, "--kubernetes", "--kubeconfig", file])
            #expect(again.status == 2 && again.stderr.contains("a cluster named \"\(name)\" already exists"), "\(again.stderr)")
        }
        let text = try await workspace.run(["clusters", "list"])
        #expect(text.stdout.contains("simulated  simulated   embedded") && text.stdout.contains("lab        kubernetes  context admin of \(file)"), "\(text.stdout)")
        let unknown = try await workspace.run(["clusters", "show", "nope"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown cluster \"nope\" (clusters: simulated, lab)"), "\(unknown.stderr)")
    }

    @Test("a cluster's config is instance.config's first layer; the deployment's wins; no fqdn_suffix renders empty hostnames")
    func configurationLayers() async throws {
        let workspace = Workspace()
        let file = try Self.kubeconfig(workspace)
        #expect(try await workspace.run(["clusters", "add", "prod", "--kubernetes", "--kubeconfig", file,
                                         "--config", "fqdn_suffix=apps.example.com", "--config", "ingress_class=traefik"]).status == 0)
        #expect(try await workspace.run(["clusters", "add", "bare", "--kubernetes", "--kubeconfig", file, "--config", "ingress_class=nginx"]).status == 0)
        func ingress(_ extra: [String]) async throws -> [String: Any] {
            let values = try await workspace.json(["render", RenderTests.myApp, "--to", "0.2.0", "--deployment", "shop", "--output", "json"] + extra)
            return (values as? [String: Any])?["ingress"] as? [String: Any] ?? [:]
        }
        func host(_ ingress: [String: Any]) -> String? { (ingress["hosts"] as? [[String: Any]])?.first?["host"] as? String }
        let prod = try await ingress(["--cluster", "prod"])
        #expect(prod["className"] as? String == "traefik" && host(prod) == "my-app-shop.apps.example.com", "\(prod)")
        let overridden = try await ingress(["--cluster", "prod", "--config", "ingress_class=haproxy"])
        #expect(overridden["className"] as? String == "haproxy", "\(overridden)")
        let bare = try await ingress(["--cluster", "bare"])
        #expect(host(bare) == "", "no fqdn_suffix: an empty hostname, as the guide has it: \(bare)")
        let simulated = try await ingress([])
        #expect(host(simulated) == "my-app-shop.apps.localhost" && simulated["className"] as? String == "nginx", "\(simulated)")
        let unknown = try await workspace.run(["render", RenderTests.myApp, "--to", "0.2.0", "--cluster", "nope"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown cluster \"nope\""), "\(unknown.stderr)")
    }
}
