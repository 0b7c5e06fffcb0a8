import Foundation
import Testing

let prober = FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/prober"

/// The "DOOR name open|closed detail" lines an action of the prober driver printed.
func doors(_ logs: String) -> [String: String] {
    var found: [String: String] = [:]
    for line in logs.split(separator: "\n") {
        guard let range = line.range(of: "DOOR ") else { continue }
        let words = line[range.upperBound...].split(separator: " ", maxSplits: 2).map(String.init)
        if words.count >= 2 { found[words[0]] = words[1] + (words.count > 2 ? " " + words[2] : "") }
    }
    return found
}

@Suite("Action code reaches the engine only through primitives", .enabled(if: geteuid() == 0, "isolation switches users, which needs root"))
struct IsolationTests {
    /// The doors the prober tries. The state doors (the SQLite file, opened
    /// as a file and as a database, and its directory) are tried on SQLite
    /// only: a PostgreSQL state is a server the action could reach over the
    /// network as any local user could; what keeps it out is the database's
    /// credentials, which the environment and descriptor doors check (the
    /// test server trusts every local connection, so no door could tell).
    static let stateDoors = ["state-file", "state-database", "state-directory"]
    static let allDoors = [
        "engine-environ", "engine-descriptors", "engine-memory", "engine-signal", "kubeconfig", "inherited-descriptors",
        "files-near-working-directory", "driver-directory-write", "own-environment",
    ] + (TestState.isSQLite ? stateDoors : [])

    /// The prober's `state` parameter: the state file it tries to open; none on PostgreSQL.
    static func stateParameter(_ workspace: Workspace) -> [String] {
        workspace.database == nil ? ["--param", "state=\(workspace.state)"] : []
    }

    /// Deploys the prober pointed at this workspace's state file (SQLite) and a
    /// world-readable kubeconfig, and upgrades it with secrets in the engine's
    /// environment. Returns the upgrade's result and the run's logs.
    func probe(_ workspace: Workspace, extra: [String] = []) async throws -> (FlowRunnerBinary.Result, String) {
        // Readable by anyone, in a directory anyone may enter: only the isolation keeps it from the action.
        let kubeconfig = workspace.exchange + "/kubeconfig"
        try "apiVersion: v1\nusers:\n- user: {token: kube-secret-4711}\n".write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        chmod(kubeconfig, 0o644)
        try await workspace.run(["drivers", "load", prober])
        let deploy = try await workspace.run(["deploy", "p", "--driver", "prober", "--app-version", "1.0",
                                              "--param", "kubeconfig=\(kubeconfig)"] + Self.stateParameter(workspace))
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let upgrade = try await FlowRunnerBinary.run(["upgrade", "p", "--to", "1.1"] + extra, environment: workspace.environment.merging([
            "KUBECONFIG": kubeconfig, "PROBE_API_TOKEN": "api-secret-4711", "AWS_SECRET_ACCESS_KEY": "aws-secret-4711",
            "PGPASSWORD": "pg-secret-4711", // the state's password (unused by the test server) stays with the engine
        ]) { $1 })
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout
        return (upgrade, logs)
    }

    @Test("the kubeconfig of a registered cluster is hidden from actions, without $KUBECONFIG naming it")
    func registeredKubeconfigHidden() async throws {
        let workspace = Workspace()
        // Readable by anyone, outside HOME, named only by the cluster's registration.
        let kubeconfig = workspace.exchange + "/registered-kubeconfig"
        try """
            apiVersion: v1
            kind: Config
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: u, user: {token: kube-secret-4712}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]

            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        chmod(kubeconfig, 0o644)
        #expect(try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", kubeconfig]).status == 0)
        try await workspace.run(["drivers", "load", prober])
        let deploy = try await workspace.run(["deploy", "p", "--driver", "prober", "--app-version", "1.0",
                                              "--param", "kubeconfig=\(kubeconfig)"] + Self.stateParameter(workspace))
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let upgrade = try await FlowRunnerBinary.run(["upgrade", "p", "--to", "1.1"], environment: workspace.environment.merging(["KUBECONFIG": ""]) { $1 })
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout
        #expect(doors(logs)["kubeconfig"]?.hasPrefix("closed") == true, "\(logs)")
        #expect(!logs.contains("kube-secret-4712"))
    }

    @Test("every door is shut: engine /proc entries, signals, state file and directory, kubeconfig, descriptors, driver files; the upgrade still succeeds")
    func doorsShut() async throws {
        let workspace = Workspace()
        let (upgrade, logs) = try await probe(workspace)
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let found = doors(logs)
        #expect(Set(found.keys) == Set(Self.allDoors), "\(logs)")
        for (name, verdict) in found.sorted(by: { $0.key < $1.key }) {
            #expect(verdict.hasPrefix("closed"), "door \(name): \(verdict)")
        }
        for secret in ["api-secret-4711", "aws-secret-4711", "kube-secret-4711", "pg-secret-4711"] {
            #expect(!logs.contains(secret))
        }
        #expect(logs.contains("PROBE uid 65534"), "the host runs as nobody")
        let report = try await workspace.runShow(2)
        let action = (report["actions"] as? [[String: Any]])?.first
        #expect(action?["isolation"] as? String == "user nobody")
    }

    @Test("--unisolated-actions: the action runs as the engine's user and the run records it")
    func unisolated() async throws {
        let workspace = Workspace()
        let (upgrade, logs) = try await probe(workspace, extra: ["--unisolated-actions"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        #expect(logs.contains("PROBE uid 0"))
        if TestState.isSQLite {
            #expect(doors(logs)["state-file"]?.hasPrefix("open") == true, "unisolated, the state file is readable: the door test can tell")
        }
        let report = try await workspace.runShow(2)
        #expect((report["actions"] as? [[String: Any]])?.first?["isolation"] as? String == "unisolated")
        let text = try await workspace.run(["runs", "show", "2"])
        #expect(text.stdout.contains("ran unisolated (--unisolated-actions)"))
    }

    @Test("a bad --action-user is refused before any run is created", arguments: [
        (["--action-user", "root"], "cannot be isolated as root"),
        (["--action-user", "no-such-user-flowrunner"], "no user \"no-such-user-flowrunner\""),
        (["--action-user", "nobody", "--unisolated-actions"], "contradict each other"),
    ])
    func refusedUser(options: [String], message: String) async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", prober])
        try await workspace.run(["deploy", "p", "--driver", "prober", "--app-version", "1.0"])
        let result = try await workspace.run(["upgrade", "p", "--to", "1.1"] + options)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect((try await workspace.json(["runs", "list", "--output", "json"]) as? [Any])?.count == 1, "only the setup run")
    }

    @Test("a driver file the action user cannot read: the action fails naming the file and the way out")
    func unreadableDriverFile() async throws {
        let workspace = Workspace()
        let driver = workspace.exchange + "/driver"
        try FileManager.default.copyItem(atPath: prober, toPath: driver)
        try? FileManager.default.removeItem(atPath: driver + "/__pycache__")
        chmod(driver, 0o755)
        chmod(driver + "/actions.py", 0o600)
        let result = try await workspace.run(["dry-run", driver, "--hook", "upgrade", "--from", "1.0", "--to", "1.1"])
        #expect(result.status == 1)
        let output = result.stdout + result.stderr
        #expect(output.contains("cannot read \(driver)/actions.py"), "\(output)")
        #expect(output.contains("--unisolated-actions"))
    }
}
