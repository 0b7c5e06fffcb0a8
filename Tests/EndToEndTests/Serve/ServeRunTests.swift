import Foundation
import Testing

/// `flowrunner serve` working runs: many hooks at once, a server killed and
/// started again, two servers on one state file, runs queued by the CLI.
@Suite("Runner service: the workers behind the API")
struct ServeRunTests {
    @Test("100 hooks over 10 deployments fired at once: all succeed, none lost, one run per deployment at a time, order kept",
          .timeLimit(.minutes(10)))
    func hundredHooks() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, arguments: ["--workers", "4"])
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let names = (0..<10).map { "shop\($0)" }
        for name in names {
            let created = try await serve.request(.POST, "/v1/deployments", json: ["name": name, "driver": "testbed", "app_version": "1.0.0"])
            #expect(created.status == 202, "\(created.text)")
        }
        let answers = try await upgradesAtOnce(names.flatMap { name in (1...10).map { (name, "1.0.\($0)", serve) } })
        #expect(answers.allSatisfy { $0.2.status == 202 }, "\(answers.filter { $0.2.status != 202 }.map(\.2.text))")
        let runIDs = answers.compactMap(\.2.runID)
        #expect(Set(runIDs).count == 100, "100 distinct runs")
        for id in runIDs {
            let report = try await serve.waitForRun(id, limit: .seconds(300))
            #expect(report["status"] as? String == "succeeded", "run \(id): \(report["error"] ?? "")")
        }
        for name in names {
            let page = try await serve.request(.GET, "/v1/runs?deployment=\(name)&limit=100").object
            let runs = (page["runs"] as? [[String: Any]] ?? []).sorted { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }
            #expect(runs.count == 11, "\(name): the setup and ten upgrades")
            for (earlier, later) in zip(runs, runs.dropFirst()) {
                let ended = earlier["ended_at"] as? String ?? "~", started = later["started_at"] as? String ?? ""
                #expect(ended <= started, "\(name): run \(later["id"] ?? "") started at \(started) before run \(earlier["id"] ?? "") ended at \(ended)")
            }
            // Worked in the order queued: the deployment is at the version of its newest run.
            let newest = answers.filter { $0.0 == name }.max { ($0.2.runID ?? 0) < ($1.2.runID ?? 0) }
            let shown = try await serve.request(.GET, "/v1/deployments/\(name)").object
            #expect(shown["app_version"] as? String == newest?.1, "\(name): \(shown["app_version"] ?? "") after the newest run to \(newest?.1 ?? "")")
        }
    }

    @Test("serve killed with SIGKILL mid-action and started again finishes the run, finished steps replayed, one job",
          .timeLimit(.minutes(5)))
    func killedAndRestarted() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 3}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let first = try await ServeProcess(workspace, arguments: ["--fixture", fixture])
        _ = try await first.request(.POST, "/v1/drivers", json: ["path": testbed])
        let setup = try await first.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "testbed", "app_version": "1.0.0"])
        _ = try await first.waitForRun(try #require(setup.runID))
        let upgrade = try #require(try await first.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        // Wait until the migration job runs: the steps before it have finished.
        var jobs: [Any] = []
        let start = ContinuousClock.now
        while jobs.isEmpty, ContinuousClock.now - start < .seconds(60) {
            let shown = try await first.request(.GET, "/v1/deployments/shop").object
            jobs = (shown["cluster"] as? [String: Any])?["jobs"] as? [Any] ?? []
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(!jobs.isEmpty, "the migration job started")
        try await first.stop(SIGKILL)

        let second = try await ServeProcess(workspace, arguments: ["--fixture", fixture])
        let report = try await second.waitForRun(upgrade, limit: .seconds(120))
        #expect(report["status"] as? String == "succeeded", "\(report["error"] ?? "")")
        let allSteps = steps(report)
        #expect(allSteps.contains { $0["replayed"] as? Bool == true }, "the stop before the kill is replayed: \(allSteps)")
        let finishedMigrations = allSteps.filter {
            ($0["args"] as? [String: Any])?["commands"] as? [String] == ["migrate --to 1.1.0"] && $0["status"] as? String == "succeeded"
                && $0["replayed"] as? Bool != true
        }
        #expect(finishedMigrations.count == 1, "the migration finished once: \(allSteps)")
        let shown = try await second.request(.GET, "/v1/deployments/shop").object
        #expect(((shown["cluster"] as? [String: Any])?["jobs"] as? [Any])?.count == 1, "one job in all: \(shown)")
        #expect(shown["app_version"] as? String == "1.1.0")
    }

    @Test("two serve processes on one state share the work: every run once, never two at once per deployment",
          .timeLimit(.minutes(10)))
    func twoServers() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        let one = try await ServeProcess(workspace, arguments: ["--workers", "2", "--log-level", "info"])
        let two = try await ServeProcess(workspace, arguments: ["--workers", "2", "--log-level", "info"])
        let names = (0..<4).map { "shop\($0)" }
        for name in names {
            let created = try await one.request(.POST, "/v1/deployments", json: ["name": name, "driver": "testbed", "app_version": "1.0.0"])
            #expect(created.status == 202, "\(created.text)")
        }
        var ids: [Int] = []
        for round in 1...5 {
            for (index, name) in names.enumerated() {
                let server = (round + index) % 2 == 0 ? one : two
                let answer = try await server.request(.POST, "/v1/deployments/\(name)/hooks/upgrade", json: ["target_version": "1.\(round).0"])
                ids.append(try #require(answer.runID, "\(answer.text)"))
            }
        }
        for id in ids { #expect(try await two.waitForRun(id, limit: .seconds(300))["status"] as? String == "succeeded") }
        for name in names {
            let runs = (try await one.request(.GET, "/v1/runs?deployment=\(name)").object["runs"] as? [[String: Any]] ?? [])
                .sorted { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }
            for (earlier, later) in zip(runs, runs.dropFirst()) {
                #expect(earlier["ended_at"] as? String ?? "~" <= later["started_at"] as? String ?? "", "\(name): runs overlap")
            }
            let report = try await one.request(.GET, "/v1/deployments/\(name)").object
            #expect(report["app_version"] as? String == "1.5.0")
            #expect(((report["cluster"] as? [String: Any])?["jobs"] as? [Any])?.count == 5, "one migration job per upgrade")
        }
        let claimedByOne = one.log.components(separatedBy: "run claimed").count - 1
        let claimedByTwo = two.log.components(separatedBy: "run claimed").count - 1
        #expect(claimedByOne + claimedByTwo == 24, "24 runs claimed once each: \(claimedByOne) + \(claimedByTwo)")
    }

    @Test("a run queued by the CLI with --detach is worked by a running serve")
    func detachedRun() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        try await workspace.deployTestbed("shop", behaviour: "ok")
        let queued = try await workspace.run(["upgrade", "shop", "--to", "1.1.0", "--detach"])
        #expect(queued.status == 0, "\(queued.stderr)")
        let runs = try await serve.request(.GET, "/v1/runs?deployment=shop").object["runs"] as? [[String: Any]] ?? []
        let id = try #require(runs.compactMap { $0["id"] as? Int }.max())
        #expect(try await serve.waitForRun(id)["status"] as? String == "succeeded")
    }

    @Test("SIGTERM drains: the running action finishes within the grace period, then serve exits 0", .timeLimit(.minutes(5)))
    func gracefulShutdown() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 2}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(workspace, arguments: ["--fixture", fixture, "--grace", "60"])
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let setup = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "testbed", "app_version": "1.0.0"])
        _ = try await serve.waitForRun(try #require(setup.runID))
        let upgrade = try #require(try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        try await waitUntil(.seconds(60)) {
            (try? FlowRunnerBinary.runBlocking(["runs", "show", String(upgrade), "--output", "json"],
                                               environment: workspace.environment, in: nil).stdout.contains("\"running\"")) == true
        }
        let running = try await serve.request(.GET, "/v1/runs/\(upgrade)").object
        #expect((running["waiting_reason"] as? String)?.hasPrefix("lease held by serve-") == true, "\(running["waiting_reason"] ?? "none")")
        let open = steps(running).filter { $0["status"] as? String == "running" }
        #expect(open.allSatisfy { $0["waiting_reason"] is String }, "every running step says why: \(open)")
        try await serve.stop(SIGTERM)
        #expect(!serve.process.isRunning)
        #expect(serve.process.terminationStatus == 0, "\(serve.log)")
        #expect(try await workspace.runShow(upgrade)["status"] as? String == "succeeded", "the action ran to its end during the drain")
    }

    @Test("retry with plan_only answers which steps would replay and which would run, and queues nothing")
    func retryPlan() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let marker = workspace.exchange + "/cause"
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "shop", "driver": "testbed", "app_version": "1.0.0", "parameters": ["behaviour": "fail-after-two", "marker": marker],
        ])
        let setup = try await serve.waitForRun(try #require(created.runID))
        #expect(setup["status"] as? String == "succeeded")
        let upgrade = try #require(try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        let failed = try await serve.waitForRun(upgrade)
        #expect(failed["status"] as? String == "failed")

        func plans(_ body: [String: Any]) async throws -> [String] {
            let answer = try await serve.request(.POST, "/v1/runs/\(upgrade)/retry", json: body.merging(["plan_only": true]) { $1 })
            #expect(answer.status == 200, "\(answer.text)")
            let plan = answer.object["plan"] as? [String: Any] ?? [:]
            let steps = (plan["actions"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]] ?? []
            return steps.map { "\($0["seq"] ?? "?") \($0["name"] ?? "?") \($0["plan"] ?? "?")" }
        }
        #expect(try await plans([:]) == ["1 stop_components replay", "2 execute_commands replay"])
        #expect(try await plans(["from_step": 2]) == ["1 stop_components replay", "2 execute_commands run"])
        #expect(try await plans(["restart": true]) == ["1 stop_components run", "2 execute_commands run"])
        let after = try await serve.request(.GET, "/v1/runs/\(upgrade)").object
        #expect(after["status"] as? String == "failed" && after["attempt"] as? Int == failed["attempt"] as? Int, "a plan queues nothing")
        let onSucceeded = try await serve.request(.POST, "/v1/runs/\(try #require(created.runID))/retry", json: ["plan_only": true])
        #expect(onSucceeded.status == 409 && onSucceeded.error["code"] as? String == "conflict", "\(onSucceeded.text)")
    }
}
