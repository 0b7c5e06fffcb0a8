import Foundation
import Testing

/// Several `flowrunner serve` processes sharing one PostgreSQL database, as
/// runner machines do (issue 20): the work is shared without loss or overlap,
/// a killed server's runs are finished by another, and a database restart
/// under load leaves every run terminal. Each test's workspace is a database
/// of its own on the test server (`Tests/Support/postgres-test-cluster`),
/// whatever store the other end-to-end tests use.
@Suite("Runner service on PostgreSQL: several serve processes, one queue",
       .enabled(if: PostgresTestCluster.isConfigured, "needs FLOWRUNNER_TEST_POSTGRES_URL (Tests/Support/postgres-test-cluster)"),
       .serialized)
struct ServePostgresTests {
    @Test("three serve processes on one database: 200 hooks over 20 deployments, none lost, none run twice, one run per deployment at a time, order kept",
          .timeLimit(.minutes(20)))
    func threeServers() async throws {
        let workspace = Workspace(kind: "postgres")
        var servers: [ServeProcess] = []
        for _ in 0..<3 {
            servers.append(try await ServeProcess(workspace, arguments: ["--workers", "2", "--log-level", "info"]))
        }
        let loaded = try await servers[0].request(.POST, "/v1/drivers", json: ["path": testbed])
        #expect(loaded.status == 201 || loaded.status == 200, "\(loaded.text)")
        let names = (0..<20).map { "shop\($0)" }
        var setups: [Int] = []
        for (index, name) in names.enumerated() {
            let created = try await servers[index % 3].request(.POST, "/v1/deployments", json: ["name": name, "driver": "testbed", "app_version": "1.0.0"])
            setups.append(try #require(created.runID, "\(created.text)"))
        }
        let requests = names.enumerated().flatMap { index, name in (1...10).map { (name, "1.0.\($0)", servers[(index + $0) % 3]) } }
        let answers = try await upgradesAtOnce(requests)
        #expect(answers.allSatisfy { $0.2.status == 202 }, "\(answers.filter { $0.2.status != 202 }.map(\.2.text))")
        let upgrades = answers.compactMap(\.2.runID)
        #expect(Set(upgrades).count == 200, "200 distinct runs")
        for id in setups + upgrades {
            let report = try await servers[id % 3].waitForRun(id, limit: .seconds(600))
            #expect(report["status"] as? String == "succeeded", "run \(id): \(report["error"] ?? "")")
        }
        for name in names {
            let runs = try await servers[1].request(.GET, "/v1/runs?deployment=\(name)&limit=100").object["runs"] as? [[String: Any]] ?? []
            expectNoOverlap(runs, name)
            #expect(runs.count == 11, "\(name): the setup and ten upgrades, \(runs.count) runs")
            let newest = answers.filter { $0.0 == name }.max { ($0.2.runID ?? 0) < ($1.2.runID ?? 0) }
            let shown = try await servers[2].request(.GET, "/v1/deployments/\(name)").object
            #expect(shown["app_version"] as? String == newest?.1, "\(name): worked in the order queued")
            #expect(((shown["cluster"] as? [String: Any])?["jobs"] as? [Any])?.count == 10, "\(name): one migration job per upgrade, none run twice")
        }
        let claims = servers.map { $0.log.components(separatedBy: "run claimed").count - 1 }
        #expect(claims.reduce(0, +) == 220, "220 runs claimed once each: \(claims)")
        #expect(claims.allSatisfy { $0 > 0 }, "every server took a share: \(claims)")
    }

    @Test("a serve killed with SIGKILL mid-run: another serve on the same database finishes its runs, finished steps replayed",
          .timeLimit(.minutes(10)))
    func killedServer() async throws {
        let workspace = Workspace(kind: "postgres")
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 3}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let first = try await ServeProcess(workspace, arguments: ["--workers", "3", "--fixture", fixture])
        _ = try await first.request(.POST, "/v1/drivers", json: ["path": testbed])
        let names = ["shop0", "shop1", "shop2"]
        for name in names {
            let created = try await first.request(.POST, "/v1/deployments", json: ["name": name, "driver": "testbed", "app_version": "1.0.0"])
            #expect(try await first.waitForRun(try #require(created.runID))["status"] as? String == "succeeded")
        }
        var upgrades: [Int] = []
        for name in names {
            upgrades.append(try #require(try await first.request(.POST, "/v1/deployments/\(name)/hooks/upgrade", json: ["target_version": "1.1.0"]).runID))
        }
        // Every migration job has started: the steps before it finished under the first server.
        try await waitUntilAsync(.seconds(120)) {
            var started = 0
            for name in names {
                let shown = try await first.request(.GET, "/v1/deployments/\(name)").object
                started += ((shown["cluster"] as? [String: Any])?["jobs"] as? [Any])?.isEmpty == false ? 1 : 0
            }
            return started == names.count
        }
        let second = try await ServeProcess(workspace, arguments: ["--workers", "3", "--fixture", fixture, "--log-level", "info"])
        try await first.stop(SIGKILL)
        for id in upgrades {
            let report = try await second.waitForRun(id, limit: .seconds(180))
            #expect(report["status"] as? String == "succeeded", "run \(id): \(report["error"] ?? "")")
            let allSteps = steps(report)
            #expect(allSteps.contains { $0["replayed"] as? Bool == true }, "run \(id): the stop before the kill is replayed: \(allSteps)")
            let migrations = allSteps.filter {
                ($0["args"] as? [String: Any])?["commands"] as? [String] == ["migrate --to 1.1.0"] && $0["status"] as? String == "succeeded"
                    && $0["replayed"] as? Bool != true
            }
            #expect(migrations.count == 1, "run \(id): the migration finished once: \(allSteps)")
        }
        #expect(second.log.components(separatedBy: "run recovered").count - 1 == names.count, "the second server recovered the killed server's runs: \(second.log.suffix(3_000))")
        for name in names {
            let shown = try await second.request(.GET, "/v1/deployments/\(name)").object
            #expect(((shown["cluster"] as? [String: Any])?["jobs"] as? [Any])?.count == 1, "\(name): one job in all")
            #expect(shown["app_version"] as? String == "1.1.0")
        }
    }

    @Test("across servers: one server's log stream follows a run another server works, and a cancel sent to it stops the action there",
          .timeLimit(.minutes(5)))
    func cancelAndFollowAcrossServers() async throws {
        let workspace = Workspace(kind: "postgres")
        let worker = try await ServeProcess(workspace)
        _ = try await worker.request(.POST, "/v1/drivers", json: ["path": testbed])
        // The ticker logs every 0.2 s for a minute: a cancel that is not seen would let it run to its end and succeed.
        let created = try await worker.request(.POST, "/v1/deployments", json: [
            "name": "shop", "driver": "testbed", "app_version": "1.0.0",
            "parameters": ["behaviour": "ticker", "marker": workspace.exchange + "/never"],
        ])
        #expect(try await worker.waitForRun(try #require(created.runID))["status"] as? String == "succeeded")
        let upgrade = try #require(try await worker.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        try await waitUntilAsync(.seconds(120)) { try await worker.request(.GET, "/v1/runs/\(upgrade)").object["status"] as? String == "running" }
        // Started once the first server works the run: the second serves the API for it.
        let other = try await ServeProcess(workspace)
        let ticks = try await readEvents(other, "/v1/runs/\(upgrade)/logs?follow=1", limit: 8)
        #expect(ticks.filter { $0.data.contains("tick") }.count >= 3, "lines of the action the other server runs, as they come: \(ticks.map(\.data))")
        let cancelled = try await other.request(.POST, "/v1/runs/\(upgrade)/cancel")
        #expect(cancelled.status == 202, "\(cancelled.text)")
        let report = try await other.waitForRun(upgrade, limit: .seconds(50))
        #expect(report["status"] as? String == "cancelled", "\(report["status"] ?? "?"): \(report["error"] ?? "")")
        let runs = try await worker.request(.GET, "/v1/runs?deployment=shop").object["runs"] as? [[String: Any]] ?? []
        #expect(runs.count == 2, "the setup and the upgrade, no retry queued: \(runs.map { $0["status"] ?? "?" })")
    }

    @Test("the database restarted twice under load: the servers live on, every run ends terminal, a failed one retries to success",
          .enabled(if: PostgresTestCluster.directory != nil, "restarting needs FLOWRUNNER_TEST_POSTGRES_DIR"),
          .timeLimit(.minutes(15)))
    func databaseRestart() async throws {
        let workspace = Workspace(kind: "postgres")
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 1}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let servers = [
            try await ServeProcess(workspace, arguments: ["--workers", "3", "--fixture", fixture]),
            try await ServeProcess(workspace, arguments: ["--workers", "3", "--fixture", fixture]),
        ]
        _ = try await servers[0].request(.POST, "/v1/drivers", json: ["path": testbed])
        let names = (0..<10).map { "shop\($0)" }
        var ids: [Int] = []
        for (index, name) in names.enumerated() {
            let created = try await servers[index % 2].request(.POST, "/v1/deployments", json: ["name": name, "driver": "testbed", "app_version": "1.0.0"])
            ids.append(try #require(created.runID, "\(created.text)"))
        }
        for round in 1...5 {
            for (index, name) in names.enumerated() {
                let answer = try await servers[(index + round) % 2].request(.POST, "/v1/deployments/\(name)/hooks/upgrade", json: ["target_version": "1.\(round).0"])
                ids.append(try #require(answer.runID, "\(answer.text)"))
            }
        }
        // Some runs have ended, others are queued or mid-action: restart now, and again a moment later.
        try await waitUntilAsync(.seconds(120)) { try await endedCount(ids, servers[0]) >= 10 }
        #expect(try await endedCount(ids, servers[0]) < ids.count - 10, "the restart comes under load")
        try await PostgresTestCluster.restart()
        try await Task.sleep(for: .seconds(2))
        try await PostgresTestCluster.restart()

        var failed: [Int] = []
        for id in ids {
            let report = try await servers[id % 2].waitForRun(id, limit: .seconds(600))
            let status = report["status"] as? String
            #expect(status == "succeeded" || status == "failed", "run \(id) ended \(status ?? "?"): \(report)")
            if status == "failed" { failed.append(id) }
        }
        let alive = servers.filter { $0.process.isRunning }.count
        #expect(alive == servers.count, "the servers outlive the restarts")
        for name in names {
            let runs = try await servers[1].request(.GET, "/v1/runs?deployment=\(name)&limit=100").object["runs"] as? [[String: Any]] ?? []
            #expect(runs.count == 6, "\(name): no run lost or added")
            expectNoOverlap(runs, name)
        }
        // A run the outage failed is recoverable: its retry succeeds (runs of a deployment retried in order).
        for id in failed.sorted() {
            let retried = try await servers[0].request(.POST, "/v1/runs/\(id)/retry", json: [:])
            #expect(retried.status == 202, "run \(id): \(retried.text)")
            let report = try await servers[0].waitForRun(id, limit: .seconds(300))
            #expect(report["status"] as? String == "succeeded", "run \(id) retried: \(report["error"] ?? "")")
        }
    }
}

/// How many of `ids` have ended, as `server` reports them.
private func endedCount(_ ids: [Int], _ server: ServeProcess) async throws -> Int {
    var ended = 0
    for id in ids {
        let status = try await server.request(.GET, "/v1/runs/\(id)").object["status"] as? String
        if ["succeeded", "failed", "cancelled"].contains(status ?? "") { ended += 1 }
    }
    return ended
}

/// Expects that no run of `runs` (one deployment's) started before the one queued ahead of it ended.
private func expectNoOverlap(_ runs: [[String: Any]], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let ordered = runs.sorted { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) }
    for (earlier, later) in zip(ordered, ordered.dropFirst()) {
        let ended = earlier["ended_at"] as? String ?? "~", started = later["started_at"] as? String ?? ""
        #expect(ended <= started, "\(name): run \(later["id"] ?? "") started at \(started) before run \(earlier["id"] ?? "") ended at \(ended)",
                sourceLocation: sourceLocation)
    }
}

/// Waits (up to `limit`) until the asynchronous `condition` holds; a request
/// that fails on the way counts as not yet.
///
/// - Throws: when `limit` passes first (the test goes no further on a state it did not reach).
func waitUntilAsync(_ limit: Duration, _ condition: () async throws -> Bool,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < limit {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ServeError(message: "waited \(limit) in vain (\(sourceLocation.fileName):\(sourceLocation.line))")
}
