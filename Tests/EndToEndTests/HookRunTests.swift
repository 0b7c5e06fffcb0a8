import Foundation
import StateStore
import Testing

/// Waits (up to `limit`) until `condition` holds.
func waitUntil(_ limit: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
    let start = ContinuousClock.now
    while try !condition(), ContinuousClock.now - start < limit {
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// True when no process `pid` runs any more (a zombie waiting for init counts as gone).
func processGone(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
}

/// The pids an action of the testbed driver wrote to `marker.pid`.
func recordedPIDs(_ marker: String) -> [Int32] {
    ((try? String(contentsOfFile: marker + ".pid", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
}

/// The steps of the first action of a `runs show --output json` report.
func steps(_ report: [String: Any], action index: Int = 0) -> [[String: Any]] {
    let actions = report["actions"] as? [[String: Any]] ?? []
    guard index < actions.count else { return [] }
    return actions[index]["steps"] as? [[String: Any]] ?? []
}

let testbed = FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/testbed"

@Suite("Hook runs end to end (real binary, real Python)")
struct HookRunTests {
    @Test("the seed's my-app: deploy 0.1.0, upgrade 0.2.0 with the five expected steps in order")
    func myApp() async throws {
        let workspace = Workspace()
        #expect(try await workspace.run(["drivers", "load", "actions-examples/my-app"]).status == 0)
        let deploy = try await workspace.run(["deploy", "demo", "--driver", "my-app", "--app-version", "0.1.0"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let upgrade = try await workspace.run(["upgrade", "demo", "--to", "0.2.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        #expect(report["hook"] as? String == "upgrade")
        let names = steps(report).compactMap { $0["name"] as? String }
        #expect(names == ["stop_components", "upgrade_deployment_version", "get_component_images", "execute_commands", "start_components"])
        #expect(steps(report).allSatisfy { $0["status"] as? String == "succeeded" && $0["replayed"] as? Bool == false })
        let execute = steps(report)[3]["args"] as? [String: Any]
        #expect(execute?["image"] as? String == "my-app:0.2.0")
        let driver = report["driver"] as? [String: Any]
        #expect(driver?["name"] as? String == "my-app" && driver?["version"] as? Int == 1)
        let deployment = try await workspace.json(["deployments", "show", "demo", "--output", "json"]) as? [String: Any]
        #expect(deployment?["app_version"] as? String == "0.2.0")
    }

    @Test("an upgrade outside supported_versions is refused with exit 2 and creates no run")
    func outsideRange() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", "actions-examples/my-app"])
        try await workspace.run(["deploy", "demo", "--driver", "my-app", "--app-version", "0.1.0"])
        let refused = try await workspace.run(["upgrade", "demo", "--to", "1.2.0"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("version 1.2.0 is outside supported_versions \">=0.1,<1.0\" of driver my-app"))
        let runs = try await workspace.json(["runs", "list", "--output", "json"]) as? [Any]
        #expect(runs?.count == 1)
    }

    @Test("bad inputs are refused before a run exists", arguments: [
        (["deploy", "x", "--driver", "testbed", "--app-version", "3.0"], "version 3.0 is outside supported_versions"),
        (["deploy", "x", "--driver", "testbed", "--app-version", "1.0", "--param", "behaviour=sometimes"], "\"sometimes\" is not one of the allowed values: ok, fail-after-two, flaky, hang, slow-migration, nested-task, gather"),
        (["deploy", "x", "--driver", "testbed", "--app-version", "1.0", "--param", "colour=red"], "unknown parameter \"colour\" for driver testbed"),
        (["deploy", "x", "--driver", "nothing", "--app-version", "1.0"], "unknown driver \"nothing\" (loaded: testbed)"),
        (["upgrade", "ghost", "--to", "1.1"], "unknown deployment \"ghost\""),
        (["deploy", "x", "--driver", "testbed", "--app-version", "1.0", "--param", "novalue"], "--param \"novalue\": expected NAME=VALUE"),
    ])
    func badInputs(_ arguments: [String], _ message: String) async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        let result = try await workspace.run(arguments)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect((try await workspace.json(["runs", "list", "--output", "json"]) as? [Any])?.isEmpty == true)
        #expect((try await workspace.json(["deployments", "list", "--output", "json"]) as? [Any])?.isEmpty == true)
    }

    @Test("the engine byte-compiles its own copy of a driver once; the author's directory gets no bytecode, and the run is the same")
    func bytecodeOfTheEngineCopy() async throws {
        let workspace = Workspace()
        let author = workspace.directory + "/author-driver"
        try FileManager.default.copyItem(atPath: testbed, toPath: author)
        try await workspace.run(["drivers", "load", author])
        try await workspace.run(["deploy", "tb", "--driver", "testbed", "--app-version", "1.0.0"])
        let upgraded = try await workspace.run(["upgrade", "tb", "--to", "1.1.0"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        let copies = try FileManager.default.contentsOfDirectory(atPath: workspace.localDirectory + "/drivers").filter { !$0.hasPrefix(".") }
        let copy = workspace.localDirectory + "/drivers/" + (try #require(copies.first))
        let bytecode = (try? FileManager.default.contentsOfDirectory(atPath: copy + "/__pycache__")) ?? []
        #expect(bytecode.contains { $0.hasPrefix("actions.") && $0.hasSuffix(".pyc") }, "the engine's copy is compiled: \(bytecode)")
        #expect(!FileManager.default.fileExists(atPath: author + "/__pycache__"), "nothing is written into the author's directory")
        // A dry-run runs the author's directory itself: still nothing written there.
        let dry = try await workspace.run(["dry-run", author, "--hook", "upgrade", "--from", "1.0.0", "--to", "1.1.0"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(!FileManager.default.fileExists(atPath: author + "/__pycache__"), "a dry-run writes no bytecode into the author's directory")
        #expect(try await workspace.run(["upgrade", "tb", "--to", "1.2.0"]).status == 0, "a run with the bytecode in place")
    }

    @Test("a replayed task skips the calls it made inside it: later steps still replay")
    func replayedTaskWithInnerCalls() async throws {
        let workspace = Workspace()
        let cause = try await workspace.deployTestbed("nt", behaviour: "nested-task", marker: "cause", markerExists: true)
        #expect(try await workspace.run(["upgrade", "nt", "--to", "1.1.0"]).status == 1)
        try FileManager.default.removeItem(atPath: cause)
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        let report = try await workspace.runShow(2)
        let attempt = report["attempt"] as? Int ?? 0
        let last = steps(report).filter { $0["attempt"] as? Int == attempt }
        #expect(last.map { $0["name"] as? String ?? "" } == ["prepare", "stop_components", "execute_commands", "upgrade_deployment_version", "start_components"])
        #expect(last.map { $0["replayed"] as? Bool ?? false } == [true, true, true, false, false])
        #expect(try await workspace.jobCount("nt") == 1, "the migration job must not run again")
        // The live view numbers steps as runs show does (operators use them for --from-step).
        let recorded = Set(last.map { "\($0["seq"] as? Int ?? 0) \($0["name"] as? String ?? "")" })
        let live = retried.stdout.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.count >= 3, ["✓", "↺"].contains(String(words[0])), Int(words[1]) != nil else { return nil }
            return "\(words[1]) \(words[2])"
        }
        #expect(live.count == last.count && Set(live) == recorded, "live \(live), recorded \(recorded)")
    }

    @Test("asyncio.gather: steps replay by occurrence, whatever order the branches reach the engine in")
    func gatherReplay() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"slow-1\", duration: 0.4}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let cause = try await workspace.deployTestbed("ga", behaviour: "gather", marker: "cause", markerExists: true)
        #expect(try await workspace.run(["upgrade", "ga", "--to", "1.1.0", "--fixture", fixture]).status == 1)
        let failed = try await workspace.runShow(2)
        let first = steps(failed).filter { $0["attempt"] as? Int == 1 }
        #expect(first.map { ($0["args"] as? [String: Any])?["commands"] as? [String] ?? [] } == [["slow-1"], ["fast-1"], ["fast-2"], ["slow-2"]],
                "the run ended with \(failed["error"] ?? "no error")")
        try FileManager.default.removeItem(atPath: cause)
        // No fixture now: the order the branches reach the engine in changes.
        #expect(try await workspace.run(["runs", "retry", "2"]).status == 0)
        let report = try await workspace.runShow(2)
        let attempt = report["attempt"] as? Int ?? 0
        let last = steps(report).filter { $0["attempt"] as? Int == attempt }
        let replayed = last.filter { $0["replayed"] as? Bool == true }.map { ($0["args"] as? [String: Any])?["commands"] as? [String] ?? [] }
        #expect(Set(replayed.map { $0.joined() }) == ["slow-1", "fast-1", "fast-2", "slow-2"])
        #expect(try await workspace.jobCount("ga") == 5, "no job runs twice (four in the branches, then the migration)")
    }

    @Test("a hung action times out and leaves no process behind")
    func timeout() async throws {
        let workspace = Workspace()
        let marker = try await workspace.deployTestbed("hg", behaviour: "hang", marker: "hang")
        let result = try await workspace.run(["upgrade", "hg", "--to", "1.2.0", "--timeout", "1"])
        #expect(result.status == 1)
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "failed")
        #expect((report["error"] as? [String: Any])?["type"] as? String == "Timeout")
        let pids = recordedPIDs(marker)
        #expect(!pids.isEmpty)
        for pid in pids { #expect(processGone(pid), "process \(pid) is still running") }
    }

    @Test("a cancel from a second process stops a running action (cancelled, not timed out) and the run gets a retry hint")
    func cancelFromAnotherProcess() async throws {
        let workspace = Workspace()
        let marker = try await workspace.deployTestbed("hg", behaviour: "hang", marker: "hang")
        // A missed cancel would end at the 120 s action timeout as a failure, not a cancel: the outcome tells.
        let process = try workspace.start(["upgrade", "hg", "--to", "1.2.0", "--timeout", "120"])
        try await waitUntil { FileManager.default.fileExists(atPath: marker + ".pid") }
        let cancel = try await workspace.run(["runs", "cancel", "2"])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        try await waitUntil(.seconds(180)) { !process.isRunning }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 1)
        #expect(try await workspace.runShow(2)["status"] as? String == "cancelled")
        let shown = try await workspace.run(["runs", "show", "2"])
        #expect(shown.stdout.contains("retry: flowrunner runs retry 2"), "a cancelled run gets a retry hint: \(shown.stdout)")
    }

    @Test("Ctrl-C on an in-process run cancels it cleanly")
    func interrupt() async throws {
        let workspace = Workspace()
        let marker = try await workspace.deployTestbed("hg", behaviour: "hang", marker: "hang")
        let process = try workspace.start(["upgrade", "hg", "--to", "1.2.0", "--timeout", "120"])
        try await waitUntil { FileManager.default.fileExists(atPath: marker + ".pid") }
        kill(process.processIdentifier, SIGINT)
        try await waitUntil(.seconds(180)) { !process.isRunning }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 1)
        #expect(try await workspace.runShow(2)["status"] as? String == "cancelled")
        for pid in recordedPIDs(marker) { #expect(processGone(pid), "process \(pid) survived") }
    }

    @Test("kill -9 of the engine mid-step: runs retry resumes at once, replays finished steps, adopts the running job")
    func crashRecovery() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 4}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "sl", "--driver", "testbed", "--app-version", "1.0.0", "--param", "behaviour=slow-migration"])
        let process = try workspace.start(["upgrade", "sl", "--to", "1.1.0", "--fixture", fixture])
        // Wait until the migration job runs (step 2 recorded as running, its job stored), then kill the engine.
        // The state is watched directly: spawning `runs show` is too slow on a loaded machine.
        let start = ContinuousClock.now
        var store: SQLiteStateStore?
        var polls = 0, lastError = ""
        while ContinuousClock.now - start < .seconds(60) {
            polls += 1
            if workspace.database == nil, store == nil, FileManager.default.fileExists(atPath: workspace.state) {
                store = try? SQLiteStateStore(path: workspace.state)
            }
            var running = false
            if let database = workspace.database {
                do {
                    running = try database.query("""
                        SELECT EXISTS (SELECT 1 FROM steps JOIN action_runs ON action_runs.id = steps.action_run_id
                                       WHERE action_runs.run_id = 2 AND steps.name = 'execute_commands' AND steps.status = 'running')
                           AND EXISTS (SELECT 1 FROM simulated_jobs WHERE deployment = 'sl')
                        """) == "t"
                } catch {
                    lastError = "\(error)"
                }
            } else if let store {
                do {
                    if let action = try await store.actionRuns(runID: 2).first {
                        // The step is recorded before its job is created: wait for both.
                        let stepRunning = try await store.steps(actionRunID: action.id).contains { $0.name == "execute_commands" && $0.status == .running }
                        let jobStored = try await !store.simulatedJobs(deployment: "sl").isEmpty
                        running = stepRunning && jobStored
                    }
                } catch {
                    lastError = "\(error)"
                }
            }
            if running { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let interrupted = try await workspace.runShow(2)
        #expect(interrupted["status"] as? String == "running", "\(polls) polls in \(ContinuousClock.now - start), store open: \(store != nil), last error: \(lastError); \(steps(interrupted).map { "\($0["attempt"] ?? "") \($0["name"] ?? "") \($0["status"] ?? "") \($0["started_at"] ?? "") \($0["ended_at"] ?? "")" })")

        let resumed = try await workspace.run(["runs", "retry", "2", "--fixture", fixture])
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        let last = steps(report).filter { $0["attempt"] as? Int == 2 }
        #expect(last.map { $0["name"] as? String ?? "" } == ["stop_components", "execute_commands", "upgrade_deployment_version", "start_components"])
        #expect(last.map { $0["replayed"] as? Bool ?? false } == [true, false, false, false])
        #expect((last[1]["result"] as? [String: Any])?["adopted"] as? Bool == true, "the running job is adopted, not started twice")
        #expect(try await workspace.jobCount("sl") == 1)
    }

    @Test("runs logs prints the action's log lines")
    func logs() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "ok", "--driver", "testbed", "--app-version", "1.0.0"])
        #expect(try await workspace.run(["upgrade", "ok", "--to", "1.1.0"]).status == 0)
        let logs = try await workspace.run(["runs", "logs", "2"])
        #expect(logs.status == 0)
        #expect(logs.stdout.contains("prefect.flow_runs: behaviour ok"))
        let followed = try await workspace.run(["runs", "logs", "2", "--follow"]) // a finished run: prints and returns
        #expect(followed.status == 0 && followed.stdout == logs.stdout)
        #expect(try await workspace.run(["runs", "logs", "99"]).status == 2)
    }

    @Test("retry with --driver-version latest runs the fixed code; replay stops at the divergence, which runs show reports")
    func divergence() async throws {
        let workspace = Workspace()
        try await workspace.deployTestbed("tb", behaviour: "fail-after-two", marker: "cause", markerExists: true)
        #expect(try await workspace.run(["upgrade", "tb", "--to", "1.1.0"]).status == 1)
        // Version 2 of the driver: the migration command changed, and the cause is no longer checked.
        let fixed = workspace.directory + "/testbed-v2"
        try FileManager.default.copyItem(atPath: testbed, toPath: fixed)
        var source = try String(contentsOfFile: fixed + "/actions.py", encoding: .utf8)
        source = source.replacingOccurrences(of: "\"migrate --to \" + target_version", with: "\"migrate --safely --to \" + target_version")
        source = source.replacingOccurrences(of: "if behaviour == \"fail-after-two\" and os.path.exists(marker):", with: "if False:")
        try source.write(toFile: fixed + "/actions.py", atomically: true, encoding: .utf8)
        #expect(try await workspace.run(["drivers", "load", fixed]).stdout.contains("driver version 2"))

        let retried = try await workspace.run(["runs", "retry", "2", "--driver-version", "latest"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        let report = try await workspace.runShow(2)
        #expect((report["driver"] as? [String: Any])?["version"] as? Int == 2)
        let attempt = report["attempt"] as? Int ?? 0
        let last = steps(report).filter { $0["attempt"] as? Int == attempt }
        #expect(last.map { $0["replayed"] as? Bool ?? false } == [true, false, false, false])
        let divergence = last[1]["divergence"] as? [String: Any]
        #expect((divergence?["message"] as? String)?.contains("replay stopped") == true)
        #expect(try await workspace.jobCount("tb") == 2)
        #expect(try await workspace.run(["runs", "show", "2"]).stdout.contains("⚠ attempt \(attempt) step 2: replay stopped"))
    }

    @Test("runs retry --restart replays nothing; --from-step replays only earlier steps")
    func replayOptions() async throws {
        let workspace = Workspace()
        let cause = try await workspace.deployTestbed("tb", behaviour: "fail-after-two", marker: "cause", markerExists: true)
        #expect(try await workspace.run(["upgrade", "tb", "--to", "1.1.0"]).status == 1)
        #expect(try await workspace.run(["runs", "retry", "2", "--from-step", "2"]).status == 1)
        var report = try await workspace.runShow(2)
        var attempt = report["attempt"] as? Int ?? 0
        #expect(steps(report).filter { $0["attempt"] as? Int == attempt }.map { $0["replayed"] as? Bool ?? true } == [true, false])
        try FileManager.default.removeItem(atPath: cause)
        #expect(try await workspace.run(["runs", "retry", "2", "--restart"]).status == 0)
        report = try await workspace.runShow(2)
        attempt = report["attempt"] as? Int ?? 0
        #expect(steps(report).filter { $0["attempt"] as? Int == attempt }.allSatisfy { $0["replayed"] as? Bool == false })
        #expect(try await workspace.run(["runs", "retry", "2"]).status == 2) // succeeded runs cannot be retried
    }
}

@Suite("dry-run (real binary, real Python)")
struct DryRunTests {
    @Test("my-app upgrade dry-run: the plan, five steps, cluster before and after; the state untouched")
    func myAppUpgrade() async throws {
        let workspace = Workspace()
        let result = try await workspace.run(["dry-run", "actions-examples/my-app", "--hook", "upgrade", "--from", "0.1.0", "--to", "0.2.0", "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["status"] as? String == "succeeded")
        #expect(steps(report).count == 5)
        #expect((report["cluster_before"] as? [String: Any])?["app_version"] as? String == "0.1.0")
        #expect((report["cluster_after"] as? [String: Any])?["app_version"] as? String == "0.2.0")
        #expect(((report["cluster_after"] as? [String: Any])?["jobs"] as? [Any])?.count == 1)
        #expect(workspace.stateUntouched)
        // The Helm values the upgrade applies, and those at the installed version.
        let values = report["values"] as? [String: Any], before = report["values_before"] as? [String: Any]
        #expect((values?["image"] as? [String: Any])?["tag"] as? String == "0.2.0", "\(report["values"] ?? "none")")
        #expect((before?["image"] as? [String: Any])?["tag"] as? String == "0.1.0", "\(report["values_before"] ?? "none")")

        let text = try await workspace.run(["dry-run", "actions-examples/my-app", "--hook", "upgrade", "--from", "0.1.0", "--to", "0.2.0"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("Plan: pre: - | core: upgrade | post: -"))
        #expect(text.stdout.contains("app version: 0.1.0 → 0.2.0"))
        #expect(text.stdout.contains("+ job fr-"))
        #expect(text.stdout.contains("Helm values (values.j2.yml), what the upgrade changes:\n  ~ image.tag: \"0.1.0\" → \"0.2.0\"\n"), "\(text.stdout)")
        #expect(text.stdout.contains("The upgrade hook would succeed."))
    }

    @Test("a failing dry-run exits 1 with the traceback pointing at the author's line")
    func failing() async throws {
        let workspace = Workspace()
        let cause = workspace.exchange + "/cause"
        _ = FileManager.default.createFile(atPath: cause, contents: Data())
        let result = try await workspace.run(["dry-run", testbed, "--hook", "upgrade", "--to", "1.1.0", "--param", "behaviour=fail-after-two", "--param", "marker=\(cause)"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("The upgrade hook would FAIL"))
        #expect(result.stdout.contains("\(testbed)/actions.py\", line"))
        #expect(result.stdout.contains("raise RuntimeError(\"the cause is still there: \" + marker)"))
    }

    @Test("setup dry-run with a fixture: the built-in install uses its replicas and images")
    func setupWithFixture() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/fixture.yaml"
        try "components:\n  server: {replicas: 3}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let result = try await workspace.run(["dry-run", "actions-examples/my-app", "--hook", "setup", "--to", "0.1.0", "--fixture", fixture, "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let workloads = (report["cluster_after"] as? [String: Any])?["workloads"] as? [[String: Any]] ?? []
        #expect(workloads.first { $0["component"] as? String == "server" }?["replicas"] as? Int == 3)
        let bad = try await workspace.run(["dry-run", "actions-examples/my-app", "--hook", "setup", "--to", "0.1.0", "--fixture", workspace.directory + "/missing.yaml"])
        #expect(bad.status == 2)
    }
}
