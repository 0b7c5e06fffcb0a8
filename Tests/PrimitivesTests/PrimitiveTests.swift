import DriverSpec
import FlowModel
import Foundation
import Primitives
import StateStore
import Testing

@Suite("Primitives on the simulated cluster")
struct PrimitiveTests {
    @Test("install creates one workload per component: 1 replica, image <label value>:<version>")
    func install() async throws {
        let bench = try await Bench()
        let state = try await bench.state()
        #expect(state.appVersion == "0.1.0")
        #expect(state.workloads.map(\.component) == ["server", "worker", "database"])
        #expect(try await bench.workload("server")?.images == ["my-app:0.1.0"])
        #expect(try await bench.workload("worker")?.images == ["worker:0.1.0"])
        #expect(try await bench.workload("server")?.replicas == 1)
        #expect(try await bench.workload("server")?.environment == ["MODE": "web"])
    }

    @Test("stop then start restores the remembered replicas (3 stays 3)")
    func stopStartRemembers() async throws {
        let bench = try await Bench(fixture: ClusterFixture(components: ["server": .init(replicas: 3)]))
        let stopped = try await bench.call("stop_components", ["components": ["server"]])
        #expect(stopped == ["stopped": ["server"], "already_stopped": []])
        #expect(try await bench.workload("server")?.replicas == 0)
        #expect(try await bench.workload("server")?.rememberedReplicas == 3)
        let started = try await bench.call("start_components", ["components": ["server"]])
        #expect(started == ["started": ["server"], "already_running": []])
        #expect(try await bench.workload("server")?.replicas == 3)
        #expect(try await bench.workload("server")?.readyReplicas == 3)
        #expect(try await bench.workload("server")?.rememberedReplicas == nil)
    }

    @Test("every primitive called twice leaves the same state as once", arguments: [
        ("stop_components", JSONValue.object(["components": ["server", "worker"]])),
        ("start_components", ["components": ["server"]]),
        ("restart_components", ["components": ["database"]]),
        ("wait_for_components", ["components": ["server"], "timeout": 5]),
        ("execute_commands", ["commands": ["migrate", "seed"], "env_from_component": "server", "labels_from_component": "server"]),
        ("upgrade_deployment_version", ["target_version": "0.2.0"]),
        ("get_component_images", ["component": "server"]),
        ("get_deployment_version", [:]),
        ("stop_component", ["component": "worker"]),
        ("start_component", ["component": "worker"]),
    ] as [(String, JSONValue)])
    func idempotent(_ name: String, _ arguments: JSONValue) async throws {
        let bench = try await Bench(fixture: ClusterFixture(components: ["server": .init(replicas: 2)]))
        if name.hasPrefix("start") { try await bench.call("stop_components", ["components": ["server", "worker"]]) }
        let first = try await bench.call(name, arguments)
        var once = try await bench.state()
        let second = try await bench.call(name, arguments)
        var twice = try await bench.state()
        // Only the call counter and restart counter (a restart is an action, not a state) may differ.
        once.primitiveCalls = [:]
        twice.primitiveCalls = [:]
        if name == "restart_components" {
            #expect(twice.workloads.map(\.restarts) == once.workloads.map { $0.restarts + ($0.component == "database" ? 1 : 0) })
            for index in twice.workloads.indices { twice.workloads[index].restarts = once.workloads[index].restarts }
        }
        #expect(once == twice)
        if name.hasPrefix("stop") || name.hasPrefix("start") {
            #expect(first != second) // the second call reports nothing changed
        }
    }

    @Test("start on a running component and stop on a stopped one are no-ops")
    func noOps() async throws {
        let bench = try await Bench()
        #expect(try await bench.call("start_components", ["components": ["server"]]) == ["started": [], "already_running": ["server"]])
        try await bench.call("stop_components", ["components": ["server"]])
        let before = try await bench.state()
        #expect(try await bench.call("stop_components", ["components": ["server"]]) == ["stopped": [], "already_stopped": ["server"]])
        var after = try await bench.state()
        after.primitiveCalls = before.primitiveCalls
        #expect(after == before)
        #expect(after.workloads.first { $0.component == "server" }?.rememberedReplicas == 1)
    }

    @Test("a re-executed execute_commands adopts the finished job instead of running the commands again")
    func adoptsJob() async throws {
        let bench = try await Bench()
        let first = try await bench.call("execute_commands", ["commands": ["my-app-upgrade"], "env_from_component": "server", "labels_from_component": "server"])
        #expect(first["adopted"] == .bool(false))
        #expect(first["exit_codes"] == [0])
        #expect(first["image"] == "my-app:0.1.0")
        let again = try await bench.call("execute_commands", ["commands": ["my-app-upgrade"], "env_from_component": "server", "labels_from_component": "server"])
        #expect(again["adopted"] == .bool(true))
        let jobs = try await bench.state().jobs
        #expect(jobs.count == 1)
        #expect(jobs.first?.environment == ["MODE": "web"])
        #expect(jobs.first?.labels["app.kubernetes.io/name"] == "my-app")
        #expect(jobs.first?.labels["flowrunner.io/job"] == "fr-1-upgrade-1")
        var other = bench
        other.jobName = "fr-1-upgrade-2"
        try await other.call("execute_commands", ["commands": ["my-app-upgrade"], "image": "my-app:0.2.0"])
        #expect(try await bench.state().jobs.count == 2)
    }

    @Test("upgrade: changes the version and the images; same version is a no-op; outside the range is refused")
    func upgrade() async throws {
        let bench = try await Bench(fixture: ClusterFixture(components: ["server": .init(images: ["my-app:0.1.0", "envoy:1.29"])]))
        #expect(try await bench.call("upgrade_deployment_version", ["target_version": "0.2.0"]) == ["previous": "0.1.0", "version": "0.2.0", "changed": true])
        #expect(try await bench.call("get_component_images", ["component": "server"]) == ["my-app:0.2.0", "envoy:1.29"])
        #expect(try await bench.call("get_deployment_version", [:]) == "0.2.0")
        #expect(try await bench.call("upgrade_deployment_version", ["target_version": "0.2"]) == ["previous": "0.2.0", "version": "0.2.0", "changed": false])
        await #expect {
            try await bench.call("upgrade_deployment_version", ["target_version": "1.0.0"])
        } throws: { error in
            guard let error = error as? PrimitiveError else { return false }
            return error.type == "VersionNotSupported" && error.message == "version 1.0.0 is outside supported_versions \">=0.1,<1.0\" of driver shop"
        }
        #expect(try await bench.call("get_deployment_version", [:]) == "0.2.0")
    }

    @Test("images of a stopped component come from its pod template")
    func imagesWhenStopped() async throws {
        let bench = try await Bench()
        try await bench.call("stop_components", ["components": ["server"]])
        #expect(try await bench.call("get_component_images", ["component": "server"]) == ["my-app:0.1.0"])
    }

    @Test("the simulated state persists in the state store per deployment")
    func persistence() async throws {
        let directory = NSTemporaryDirectory() + "flowrunner-prim-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStateStore(path: directory + "/state.sqlite")
        let bench = try await Bench(storage: StateStoreClusterStorage(store: store, deployment: "shop"))
        try await bench.call("stop_components", ["components": ["worker"]])
        let reopened = SimulatedCluster(storage: StateStoreClusterStorage(store: try SQLiteStateStore(path: directory + "/state.sqlite"), deployment: "shop"))
        let state = try await reopened.state()
        #expect(state.workloads.first { $0.component == "worker" }?.replicas == 0)
        #expect(state.appVersion == "0.1.0")
        #expect(try await SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: "other")).state().workloads.isEmpty)
    }
}

@Suite("Fixtures: commands, failure injection, readiness")
struct FixtureBehaviourTests {
    @Test("a failing command raises CommandFailed with exit code, command and output; later commands do not run")
    func commandFails() async throws {
        let fixture = ClusterFixture(commands: [.init(match: "migrate*", exitCode: 2, output: "relation missing")])
        let bench = try await Bench(fixture: fixture)
        await #expect {
            try await bench.call("execute_commands", ["commands": ["echo start", "migrate --all", "never"]])
        } throws: { error in
            guard let error = error as? PrimitiveError, case .object(let details)? = error.details else { return false }
            return error.type == "CommandFailed" && details["exit_code"] == .int(2) && details["command"] == .string("migrate --all")
                && details["output"] == .string("relation missing")
                && error.message.hasPrefix("command \"migrate --all\" exited with status 2 (job fr-1-upgrade-1)")
        }
        #expect(try await bench.state().jobs.first?.result.commands.map(\.command) == ["echo start", "migrate --all"])
    }

    @Test("the n-th call of a primitive fails when the fixture says so")
    func injectedFailure() async throws {
        let fixture = ClusterFixture(failures: [.init(primitive: "stop_components", call: 2, message: "API server unavailable")])
        let bench = try await Bench(fixture: fixture)
        let cluster = bench.cluster
        try await cluster.primitiveWillRun("stop_components")
        let error = await #expect(throws: ClusterError.self) { try await cluster.primitiveWillRun("stop_components") }
        #expect(error?.code == .injected && error?.message == "API server unavailable")
        try await cluster.primitiveWillRun("stop_components")
        // The catalogue asks before every real execution: the second stop of a run fails with the fixture's message.
        let second = try await Bench(fixture: fixture)
        _ = try await second.call("stop_components", ["components": ["server"]])
        let refused = await #expect(throws: PrimitiveError.self) { try await second.call("stop_components", ["components": ["server"]]) }
        #expect(refused?.message == "API server unavailable")
    }

    @Test("a component that never becomes ready makes start time out")
    func neverReady() async throws {
        let bench = try await Bench(fixture: ClusterFixture(components: ["worker": .init(neverReady: true)]))
        await #expect {
            try await bench.call("wait_for_components", ["components": ["worker"], "timeout": 30])
        } throws: { error in
            (error as? PrimitiveError)?.message.contains("did not become ready within 30 s") == true
        }
    }

    @Test("a command's duration is waited for, and cancelling deletes the job")
    func durationAndCancel() async throws {
        let bench = try await Bench(fixture: ClusterFixture(commands: [.init(match: "slow", duration: 10)]))
        let task = Task { try await bench.call("execute_commands", ["commands": ["slow"]]) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await bench.state().jobs.count == 1)
        task.cancel()
        await #expect {
            try await task.value
        } throws: { error in
            (error as? PrimitiveError)?.code == .cancelled
        }
        #expect(try await bench.state().jobs.isEmpty)
    }

    @Test("fixture files: every section read; bad fields named")
    func fixtureFile() throws {
        let directory = NSTemporaryDirectory() + "flowrunner-fixture-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = directory + "/good.yaml"
        try """
        app_version: 0.1.0
        components:
          server: {replicas: 3, images: ["my-app:0.1.0"], env: {A: 1}, never_ready: false}
        commands:
          - {match: "my-app-upgrade", exit_code: 1, output: "boom", duration: 0.5}
        failures:
          - {primitive: stop_component, call: 2}
        """.write(toFile: good, atomically: true, encoding: .utf8)
        let fixture = try ClusterFixture.load(path: good)
        #expect(fixture.appVersion == "0.1.0")
        #expect(fixture.components["server"] == .init(replicas: 3, images: ["my-app:0.1.0"], environment: ["A": "1"]))
        #expect(fixture.behaviour(of: "my-app-upgrade").exitCode == 1)
        #expect(fixture.behaviour(of: "other").exitCode == 0)
        #expect(fixture.failures == [.init(primitive: "stop_components", call: 2, message: "injected failure of stop_component call 2")])

        let cases: [(String, String)] = [
            ("commands:\n  - {exit_code: 1}\n", "`commands[0]`: missing required key `match`"),
            ("commands:\n  - {match: x, exit_code: one}\n", "`commands[0].exit_code`: expected an integer, found string one"),
            ("components:\n  server: {replicas: -1}\n", "`components.server.replicas`: expected an integer of at least 0, found -1"),
            ("failures:\n  - {primitive: explode}\n", "`failures[0].primitive`: unknown primitive \"explode\""),
            ("surprise: 1\n", "`(document)`: unknown key \"surprise\""),
            ("components: [\n", "YAML syntax error"),
        ]
        for (text, expected) in cases {
            let path = directory + "/bad.yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = #expect(throws: FixtureError.self) { try ClusterFixture.load(path: path) }
            #expect(error?.description.hasPrefix(path) == true)
            #expect(error?.description.contains(expected) == true, "\(String(describing: error)) should contain \(expected)")
        }
        #expect(throws: FixtureError.self) { try ClusterFixture.load(path: directory + "/missing.yaml") }
    }

    @Test("glob matching of command patterns", arguments: [
        ("migrate*", "migrate --all", true), ("*seed*", "rails db:seed now", true), ("a?c", "abc", true),
        ("exact", "exact", true), ("exact", "exactly", false), ("*", "", true), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false),
    ])
    func glob(_ pattern: String, _ text: String, _ matches: Bool) {
        #expect(ClusterFixture.Command(match: pattern).matches(text) == matches)
    }
}

@Suite("Primitive argument errors")
struct PrimitiveArgumentTests {
    static let cases: [(String, JSONValue, String)] = [
        ("stop_components", [:], "stop_components() is missing its required argument 'components'"),
        ("stop_components", ["components": 3], "stop_components(): argument 'components' must be a list of component names, found integer 3"),
        ("stop_components", ["components": ["server"], "force": true], "stop_components() got an unexpected argument 'force' (expected: components, timeout)"),
        ("stop_components", ["components": ["cache"]], "unknown component \"cache\" (declared: database, server, worker)"),
        ("start_components", ["components": []], "start_components(): argument 'components' must be a list of component names, found list []"),
        ("start_components", ["components": ["server"], "timeout": -1], "start_components(): argument 'timeout' must be a positive number of seconds, at most 31536000 (one year), found integer -1"),
        ("restart_components", ["components": [1]], "restart_components(): argument 'components' must be a list of component names"),
        ("wait_for_components", ["components": ["nope"]], "unknown component \"nope\""),
        ("execute_commands", [:], "execute_commands() is missing its required argument 'commands'"),
        ("execute_commands", ["commands": ["x"], "image": 5], "execute_commands(): argument 'image' must be an image reference such as repo:tag, found integer 5"),
        ("execute_commands", ["commands": ["x"], "env_from_component": "ghost"], "unknown component \"ghost\""),
        ("execute_commands", ["commands": ["x"], "env": ["A": ["nested"]]], "execute_commands(): argument 'env' must be a mapping of environment variables"),
        ("upgrade_deployment_version", [:], "upgrade_deployment_version() is missing its required argument 'target_version'"),
        ("upgrade_deployment_version", ["target_version": "banana"], "invalid version \"banana\""),
        ("upgrade_deployment_version", ["target_version": "5.0"], "version 5.0 is outside supported_versions \">=0.1,<1.0\" of driver shop"),
        ("get_component_images", [:], "get_component_images() is missing its required argument 'component'"),
        ("get_component_images", ["component": ["server"]], "get_component_images(): argument 'component' must be a component name, found list [server]"),
        ("get_deployment_version", ["verbose": true], "get_deployment_version() got an unexpected argument 'verbose' (it takes no arguments)"),
        ("stop_component", ["component": "server", "components": ["worker"]], "stop_component() takes 'component' or 'components', not both"),
        ("launch_rockets", [:], "unknown primitive \"launch_rockets\" (known: stop_components"),
        ("stop_components", ["a", "b"], "stop_components: arguments must be given by name (a mapping), found list"),
    ]

    @Test("each bad call is refused with a message an author understands", arguments: cases)
    func badArguments(_ name: String, _ arguments: JSONValue, _ expected: String) async throws {
        let bench = try await Bench()
        let before = try await bench.state()
        await #expect {
            try await bench.call(name, arguments)
        } throws: { error in
            guard let error = error as? PrimitiveError else { return false }
            if !error.message.contains(expected) { Issue.record("\(error.message) does not contain \(expected)") }
            return true
        }
        // Nothing changed but the count of calls (a refused call is still a call: fixtures count it).
        var after = try await bench.state()
        after.primitiveCalls = before.primitiveCalls
        #expect(after == before)
    }

    @Test("aliases are normalised to their plural primitive")
    func aliases() throws {
        let normalized = try PrimitiveCatalogue.normalize(name: "stop_component", arguments: ["component": "server"])
        #expect(normalized.name == "stop_components")
        #expect(normalized.arguments == ["components": ["server"]])
        #expect(try PrimitiveCatalogue.normalize(name: "execute_commands", arguments: ["commands": ["x"]]).name == "execute_commands")
    }
}
