import Foundation
import Testing

/// The Helm values setup and upgrade apply: rendered by the engine at the
/// run's target version, recorded per release by the simulated cluster, and
/// shown by `deployments show` (DESIGN.md "Helm values").
@Suite("Helm values applied by hook runs")
struct AppliedValuesTests {
    static let myApp = RenderTests.myApp

    /// The cluster's releases of `deployment` as `deployments show --output json` has them.
    static func releases(_ workspace: Workspace, _ deployment: String) async throws -> [[String: Any]] {
        let shown = try await workspace.json(["deployments", "show", deployment, "--output", "json"]) as? [String: Any]
        return (shown?["cluster"] as? [String: Any])?["releases"] as? [[String: Any]] ?? []
    }

    static func tag(_ release: [String: Any]?) -> String? {
        ((release?["values"] as? [String: Any])?["image"] as? [String: Any])?["tag"] as? String
    }

    static func env(_ release: [String: Any]?) -> [String] {
        ((release?["values"] as? [String: Any])?["extraEnv"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "")=\($0["value"] ?? "")" }
    }

    @Test("setup and upgrade record the values they applied; an env change applies at the next upgrade, even to the same version")
    func releasesRecordValues() async throws {
        let workspace = Workspace()
        let driver = try RenderTests.myAppWithEnv(workspace)
        try await workspace.run(["drivers", "load", driver])
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--env", "server.EXTRA=1"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        var releases = try await Self.releases(workspace, "shop")
        #expect(releases.map { $0["revision"] as? Int } == [1, 2], "\(releases)")
        #expect(releases.map(Self.tag) == ["0.1.0", "0.2.0"])
        #expect(Self.env(releases.last) == ["LOG_LEVEL=info", "EXTRA=1"], "\(releases)")

        // Removing an env value (kubectl's NAME- form) and upgrading to the same version is a new release.
        #expect(try await workspace.run(["deployments", "set", "shop", "--env", "server.EXTRA-", "--env", "server.LOG_LEVEL=debug"]).status == 0)
        let same = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(same.status == 0, "\(same.stderr)")
        releases = try await Self.releases(workspace, "shop")
        #expect(releases.count == 3 && Self.env(releases.last) == ["LOG_LEVEL=debug"], "\(releases)")
        // Nothing changed: no new release (Helm and Flux leave an unchanged release alone).
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        #expect(try await Self.releases(workspace, "shop").count == 3)

        let text = try await workspace.run(["deployments", "show", "shop"])
        #expect(text.stdout.contains("Releases (as helm history lists them):"), "\(text.stdout)")
        #expect(text.stdout.contains("  3  0.2.0  ") && text.stdout.contains("values changed"), "\(text.stdout)")
        #expect(text.stdout.contains("Values of revision 3:") && text.stdout.contains(#"  image.tag: "0.2.0""#), "\(text.stdout)")
    }

    @Test("values that do not render at the target version fail the run before any action changes the cluster")
    func unrenderableValuesFailEarly() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try await workspace.run(["drivers", "load", driver])
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        // Only the 0.3.0 values reach an undefined name, on the template's line 2.
        try "a: 1\n{% if app.version == '0.3.0' %}b: {{ nope }}{% endif %}\n"
            .write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        // The action's module says when it is imported: the values fail the run before any driver code runs.
        let imported = workspace.exchange + "/imported"
        let source = try String(contentsOfFile: driver + "/actions.py", encoding: .utf8)
        try ("open(\(String(reflecting: imported)), \"a\").close()\n" + source).write(toFile: driver + "/actions.py", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["drivers", "load", driver]).status == 0)
        let upgrade = try await workspace.run(["upgrade", "shop", "--to", "0.3.0", "--driver-version", "latest"])
        #expect(upgrade.status == 1, "\(upgrade.stdout)")
        let run = try await workspace.runShow(2)
        let error = run["error"] as? [String: Any]
        #expect(error?["type"] as? String == "ValuesError", "\(run)")
        #expect((error?["message"] as? String)?.contains("values.j2.yml:2") == true, "\(error ?? [:])")
        #expect((error?["message"] as? String)?.contains("'nope' is undefined") == true, "\(error ?? [:])")
        let actions = run["actions"] as? [[String: Any]] ?? []
        #expect(actions.allSatisfy { $0["status"] as? String == "pending" }, "no action started: \(actions)")
        let shown = try await workspace.json(["deployments", "show", "shop", "--output", "json"]) as? [String: Any]
        let cluster = shown?["cluster"] as? [String: Any]
        #expect(cluster?["app_version"] as? String == "0.1.0")
        let workloads = cluster?["workloads"] as? [[String: Any]] ?? []
        #expect(workloads.allSatisfy { ($0["replicas"] as? Int ?? 0) > 0 }, "nothing was stopped: \(workloads)")
        #expect(try await Self.releases(workspace, "shop").count == 1)
        #expect(!FileManager.default.fileExists(atPath: imported), "the action's module was not imported")
        // At a version whose values render, the same driver's action runs (and so imports its module).
        let rendered = try await workspace.run(["upgrade", "shop", "--to", "0.2.0", "--driver-version", "latest"])
        #expect(rendered.status == 0, "\(rendered.stdout)\(rendered.stderr)")
        #expect(FileManager.default.fileExists(atPath: imported))
    }

    @Test("the renderer a CLI run starts early is gone before its action runs, with a values file or without", arguments: [true, false])
    func earlyRendererStopped(withValues: Bool) async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        if !withValues { try FileManager.default.removeItem(atPath: driver + "/values.j2.yml") }
        // The action writes down the engine's children that are values renderers (a zombie has no command line).
        let seen = workspace.exchange + "/renderers"
        let source = try String(contentsOfFile: driver + "/actions.py", encoding: .utf8)
        let probe = """
            import os as _os


            def _renderers():
                found = []
                for pid in filter(str.isdigit, _os.listdir("/proc")):
                    try:
                        with open("/proc/%s/stat" % pid) as handle:
                            parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                        with open("/proc/%s/cmdline" % pid, "rb") as handle:
                            command = handle.read().replace(b"\\0", b" ").decode()
                    except (OSError, ValueError, IndexError):
                        continue
                    if parent == _os.getppid() and "_flowrunner.render" in command:
                        found.append(command)
                with open(\(String(reflecting: seen)), "a") as handle:
                    handle.write(repr(found) + "\\n")


            """
        let header = "async def upgrade(context: GlobalContext, target_version: str):\n"
        #expect(source.contains(header))
        try (probe + source.replacingOccurrences(of: header, with: header + "    _renderers()\n"))
            .write(toFile: driver + "/actions.py", atomically: true, encoding: .utf8)
        let loaded = try await workspace.run(["drivers", "load", driver])
        #expect(loaded.status == 0, "\(loaded.stdout)\(loaded.stderr)")
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        for version in ["0.2.0", "0.3.0"] {
            let upgrade = try await workspace.run(["upgrade", "shop", "--to", version])
            #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        }
        #expect(try String(contentsOfFile: seen, encoding: .utf8) == "[]\n[]\n")
        if withValues { #expect(Self.tag(try await Self.releases(workspace, "shop").last) == "0.3.0") }
    }

    @Test("an upgrade to a driver version that dropped an override the deployment sets is refused until it is cleared")
    func staleInputsRefused() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try await workspace.run(["drivers", "load", driver])
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--args", #"server=["--debug"]"#])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        var spec = try String(contentsOfFile: driver + "/driver.styrmin.yml", encoding: .utf8)
        spec = spec.replacingOccurrences(of: "      args: true\n", with: "      args: false\n")
        try spec.write(toFile: driver + "/driver.styrmin.yml", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["drivers", "load", driver]).status == 0)
        let refused = try await workspace.run(["upgrade", "shop", "--to", "0.2.0", "--driver-version", "latest"])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("declares no args override") && refused.stderr.contains("flowrunner deployments set shop"),
                "\(refused.stderr)")
        #expect(try await workspace.run(["runs", "list", "--deployment", "shop", "--output", "json"]).stdout.contains("\"upgrade\"") == false,
                "a refused upgrade stores no run")
        #expect(try await workspace.run(["deployments", "set", "shop", "--args", "server=null"]).status == 0)
        let upgraded = try await workspace.run(["upgrade", "shop", "--to", "0.2.0", "--driver-version", "latest"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        let latest = try await Self.releases(workspace, "shop").last?["values"] as? [String: Any]
        #expect(latest?["args"] as? [Any] != nil && (latest?["args"] as? [Any])?.isEmpty == true, "cleared renders []: \(latest ?? [:])")
    }

    @Test("a retry onto a driver version that dropped an override the deployment sets is refused, as an upgrade is")
    func staleInputsRefusedOnRetry() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try "a: 1\n{% if app.version == '0.3.0' %}b: {{ nope }}{% endif %}\n".write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        try await workspace.run(["drivers", "load", driver])
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--args", #"server=["--debug"]"#]).status == 0)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.3.0"]).status == 1)
        var spec = try String(contentsOfFile: driver + "/driver.styrmin.yml", encoding: .utf8)
        spec = spec.replacingOccurrences(of: "      args: true\n", with: "      args: false\n")
        try spec.write(toFile: driver + "/driver.styrmin.yml", atomically: true, encoding: .utf8)
        try "a: 1\n".write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["drivers", "load", driver]).status == 0)
        let refused = try await workspace.run(["runs", "retry", "2", "--driver-version", "latest"])
        #expect(refused.status == 2 && refused.stderr.contains("declares no args override") && refused.stderr.contains("deployments set shop"),
                "\(refused.stdout)\(refused.stderr)")
        #expect(try await workspace.runShow(2)["status"] as? String == "failed", "a refused retry changes nothing")
    }

    @Test("secret config values in the applied values are shown as ***")
    func secretsMaskedInReleases() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try "apiKey: \"{{ instance.config.api_key | default('') }}\"\nregion: \"{{ instance.config.region | default('') }}\"\n"
            .write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        try await workspace.run(["drivers", "load", driver])
        let secret = "s3cr3t-" + UUID().uuidString
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0",
                                                "--secret-config", "api_key=\(secret)", "--config", "region=eu"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        for arguments in [["deployments", "show", "shop"], ["deployments", "show", "shop", "--output", "json"]] {
            let shown = try await workspace.run(arguments)
            #expect(!shown.stdout.contains(secret), "\(shown.stdout)")
            #expect(shown.stdout.contains("***") && shown.stdout.contains("eu"), "\(shown.stdout)")
        }
    }

    @Test("--env COMPONENT.NAME works for a component whose name holds a dot")
    func dottedComponentNames() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/dotted"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        var spec = try String(contentsOfFile: driver + "/driver.styrmin.yml", encoding: .utf8)
        spec = spec.replacingOccurrences(of: "    server:\n", with: "    web.server:\n")
            .replacingOccurrences(of: "component: server", with: "component: web.server")
        try spec.write(toFile: driver + "/driver.styrmin.yml", atomically: true, encoding: .utf8)
        try "env: {{ components | component_env_vars('web.server') | tojson }}\n"
            .write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        let rendered = try await workspace.json(["render", driver, "--to", "0.1.0", "--env", "web.server.LEVEL=debug", "--output", "json"])
        let env = (rendered as? [String: Any])?["env"] as? [[String: Any]] ?? []
        #expect(env.map { "\($0["name"] ?? "")=\($0["value"] ?? "")" } == ["LEVEL=debug"], "\(rendered)")
    }
}
