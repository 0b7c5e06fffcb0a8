import Foundation
import Testing

let semantics = FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/semantics"

@Suite("Action semantics: Prefect's corners")
struct ActionSemanticsTests {
    /// Deploys the semantics driver with `behaviour` and upgrades it; returns the upgrade and the run's logs.
    func upgrade(_ behaviour: String, marker: String = "", fixture: String? = nil) async throws -> (Workspace, FlowRunnerBinary.Result, String) {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", semantics])
        try await workspace.run(["deploy", "s", "--driver", "semantics", "--app-version", "1.0",
                                 "--param", "behaviour=\(behaviour)", "--param", "marker=\(marker)"])
        let result = try await workspace.run(["upgrade", "s", "--to", "1.1"] + (fixture.map { ["--fixture", $0] } ?? []))
        return (workspace, result, try await workspace.run(["runs", "logs", "2"]).stdout)
    }

    @Test("text that cannot be encoded is logged with the bad bytes escaped, from print, stderr, logging and the run logger")
    func badText() async throws {
        let (_, result, logs) = try await upgrade("bad-text")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for source in ["print:", "stderr:", "logging:", "run logger:"] {
            #expect(logs.contains(source), "\(source) lost: \(logs)")
        }
        #expect(logs.contains("caf\\udce9") || logs.contains("caf\\xe9"), "\(logs)")
    }

    @Test("a synchronous flow that calls primitives without await runs them")
    func syncPrimitives() async throws {
        let (workspace, result, _) = try await upgrade("sync-primitives")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let report = try await workspace.runShow(2)
        let first = (report["actions"] as? [[String: Any]])?.first
        let names = (first?["steps"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "" }
        #expect(names == ["stop_components", "start_components"], "\(names)")
    }

    @Test("an exception whose __str__ raises keeps its type; the task's retries still apply")
    func unprintable() async throws {
        let (workspace, result, logs) = try await upgrade("unprintable")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(logs.contains("result: second try"), "\(logs)")
        #expect(logs.contains("Unprintable"), "the retry warning names the real type: \(logs)")
        #expect(!logs.contains("%r"))
        _ = workspace
    }

    @Test("@task(timeout_seconds=) stops sync and async tasks with TimeoutError at the limit")
    func taskTimeouts() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"slow-job\", duration: 6}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let (ran, result, logs) = try await upgrade("task-timeouts", fixture: fixture)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(logs.contains("sync task TimeoutError"), "\(logs)")
        #expect(logs.contains("async task TimeoutError"), "\(logs)")
        // The primitive the timed-out task was waiting for stops with it: its
        // step is recorded cancelled (not left running) and its job is gone.
        let steps = (try await ran.runShow(2)["actions"] as? [[String: Any]])?.last?["steps"] as? [[String: Any]] ?? []
        let job = steps.first { $0["name"] as? String == "execute_commands" }
        #expect(job?["status"] as? String == "failed", "\(steps)")
        let jobError = "\(job?["error"] ?? "")"
        #expect(jobError.contains("cancelled"), "\(steps)")
        let shown = try await ran.json(["deployments", "show", "s", "--output", "json"]) as? [String: Any]
        let jobs = (shown?["cluster"] as? [String: Any])?["jobs"] as? [[String: Any]] ?? []
        #expect(!jobs.contains { $0["finished"] as? Bool != true }, "no job runs on unseen: \(jobs)")
    }

    @Test("sync tasks called from a thread pool inside a flow complete")
    func threads() async throws {
        let (_, result, logs) = try await upgrade("threads")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(logs.contains("threads: [0, 2, 4, 6, 8]"), "\(logs)")
    }

    @Test("one huge log record is cut, not dropped: its head and the lines after it are kept")
    func hugeRecord() async throws {
        let (_, result, logs) = try await upgrade("huge-log")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(logs.contains("xxxxxxxxxxxxxxxx"), "the head of the record is kept")
        #expect(logs.contains("after the huge record"))
        #expect(logs.utf8.count < 9 << 20)
    }

    @Test("a StopIteration turned into RuntimeError by a coroutine keeps the author's frame; the host's own frames are left out")
    func stopIteration() async throws {
        let (workspace, result, _) = try await upgrade("stop-iteration")
        #expect(result.status == 1)
        let action = (try await workspace.runShow(2)["actions"] as? [[String: Any]])?.last
        let traceback = (action?["error"] as? [String: Any])?["traceback"] as? String ?? ""
        #expect(traceback.contains("in first_pending"), "\(traceback)")
        #expect(traceback.contains("StopIteration"))
        #expect(!traceback.contains("_flowrunner/"), "\(traceback)")
    }

    @Test("a replayed task returns what the first call returned, Python types included")
    func typedReplay() async throws {
        let workspace = Workspace()
        let marker = workspace.exchange + "/cause"
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        let (again, failed, firstLogs) = try await upgrade("typed-replay", marker: marker)
        #expect(failed.status == 1)
        try FileManager.default.removeItem(atPath: marker)
        #expect(try await again.run(["runs", "retry", "2"]).status == 0)
        let logs = try await again.run(["runs", "logs", "2"]).stdout
        let typedLines = logs.split(separator: "\n").filter { $0.contains("typed: ") }.map { $0.components(separatedBy: "typed: ").last ?? "" }
        #expect(typedLines.count == 2 && typedLines[0] == typedLines[1], "\(typedLines)")
        #expect(firstLogs.contains("typed: {1: ('a', 2), 'k': frozenset()}"), "\(firstLogs)")
        let report = try await again.runShow(2)
        let replayed = (report["actions"] as? [[String: Any]])?.last?["steps"] as? [[String: Any]] ?? []
        #expect(replayed.contains { $0["name"] as? String == "typed" && $0["replayed"] as? Bool == true })
        let shown = replayed.first { $0["name"] as? String == "typed" }?["result"] as? [String: Any]
        #expect(shown?["pickle"] == nil && shown?["repr"] != nil, "runs show keeps the pickle out: \(shown ?? [:])")
    }

    @Test("a task whose result cannot be recorded runs again on retry: its step executes, the calls inside it replay")
    func unrecordedResult() async throws {
        let setup = Workspace()
        let marker = setup.exchange + "/cause-unrecorded"
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        let (workspace, failed, firstLogs) = try await upgrade("unrecorded-result", marker: marker)
        #expect(failed.status == 1)
        #expect(firstLogs.contains("got a lock: lock"), "\(firstLogs)")
        #expect(firstLogs.contains("not recorded for replay"), "\(firstLogs)")
        try FileManager.default.removeItem(atPath: marker)
        #expect(try await workspace.run(["runs", "retry", "2"]).status == 0)
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout
        #expect(logs.components(separatedBy: "holds_lock body ran").count - 1 == 2, "\(logs)")
        #expect(!logs.contains("cannot be replayed"), "the engine runs the task, the host never finds an unusable replay: \(logs)")
        let report = try await workspace.runShow(2)
        let steps = (report["actions"] as? [[String: Any]])?.last?["steps"] as? [[String: Any]] ?? []
        let retried = steps.filter { $0["attempt"] as? Int == 2 }
        let task = retried.first { $0["name"] as? String == "holds_lock" }
        #expect(task?["replayed"] as? Bool == false && task?["status"] as? String == "succeeded", "\(retried)")
        let stop = retried.first { $0["name"] as? String == "stop_components" }
        #expect(stop?["replayed"] as? Bool == true, "the primitive inside the task is not run twice: \(retried)")
        #expect(retried.contains { $0["name"] as? String == "upgrade_deployment_version" && $0["replayed"] as? Bool == false })
    }
}
