import Foundation
import Testing

/// The guide's my-app on a real cluster: runs only when
/// `FLOWRUNNER_KUBECONFIG` names a kubeconfig (kind or k3s with Flux
/// installed); `FLOWRUNNER_CHART_REPOSITORY` is where the my-app chart is
/// (`oci://...`), `FLOWRUNNER_KUBE_CONTEXT` an optional context.
@Suite("Kubernetes: a real cluster (FLOWRUNNER_KUBECONFIG)",
       .enabled(if: ProcessInfo.processInfo.environment["FLOWRUNNER_KUBECONFIG"] != nil))
struct KubernetesSmokeTests {
    @Test("my-app is deployed, upgraded and shown on a real cluster")
    func myAppOnARealCluster() async throws {
        let environment = ProcessInfo.processInfo.environment
        let workspace = Workspace()
        var add = ["clusters", "add", "real", "--kubernetes", "--kubeconfig", try #require(environment["FLOWRUNNER_KUBECONFIG"]),
                   "--config", "ingress_class=\(environment["FLOWRUNNER_INGRESS_CLASS"] ?? "nginx")"]
        if let repository = environment["FLOWRUNNER_CHART_REPOSITORY"] { add += ["--config", "chart_repository=\(repository)"] }
        if let context = environment["FLOWRUNNER_KUBE_CONTEXT"] { add += ["--context", context] }
        let added = try await workspace.run(add)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try await workspace.run(["drivers", "load", RenderTests.myApp]).status == 0)
        let name = "fr-smoke-\(Int(Date().timeIntervalSince1970) % 100_000)"
        let deployed = try await workspace.run(["deploy", name, "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "real"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        let upgraded = try await workspace.run(["upgrade", name, "--to", "0.2.0"])
        #expect(upgraded.status == 0, "\(upgraded.stdout)\(upgraded.stderr)")
        let shown = try await workspace.json(["deployments", "show", name, "--output", "json"]) as? [String: Any]
        #expect((shown?["cluster"] as? [String: Any])?["app_version"] as? String == "0.2.0", "\(shown ?? [:])")
    }
}
