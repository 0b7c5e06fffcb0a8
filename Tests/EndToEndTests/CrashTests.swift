import Foundation
import HostileInput
import StateStore
import Testing

/// The host process(es) the engine `pid` started (children listed by /proc).
func childPIDs(of pid: Int32) -> [Int32] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { Int32($0) }
    }
}

@Suite("kill -9 at random points: every run resumable, no finished step or job done twice")
struct CrashTests {
    static let trials = 10

    @Test("10 random kill points over a five-job upgrade, of the engine or of its Python host", .timeLimit(.minutes(5)))
    func randomKills() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try """
            commands:
              - {match: "slow-*", duration: 0.15}
              - {match: "fast-*", duration: 0.05}
              - {match: "migrate*", duration: 0.15}
            """.write(toFile: fixture, atomically: true, encoding: .utf8)
        // FLOWRUNNER_CRASH_SEED=N tries other kill points (the default keeps CI repeatable).
        let seed = ProcessInfo.processInfo.environment["FLOWRUNNER_CRASH_SEED"].flatMap { UInt64($0) } ?? 0xC4A5_11ED
        var random = HostileMutator(seed: seed)
        for trial in 0..<Self.trials {
            let name = "crash\(trial)"
            try await workspace.deployTestbed(name, behaviour: "gather", marker: "absent-\(trial)")
            let engine = try workspace.start(["upgrade", name, "--to", "1.1.0", "--fixture", fixture])
            try await Task.sleep(for: .milliseconds(30 + random.below(900)))
            let hosts = childPIDs(of: engine.processIdentifier)
            let victim = trial % 2 == 1 && !hosts.isEmpty ? "host" : "engine"
            if victim == "host" { for host in hosts { kill(host, SIGKILL) } } else { kill(engine.processIdentifier, SIGKILL) }
            try await waitUntil(.seconds(60)) { !engine.isRunning }
            #expect(!engine.isRunning, "trial \(trial): the engine did not end after its \(victim) was killed")

            let report = try await recover(name, workspace: workspace, fixture: fixture)
            let context = "seed \(seed) trial \(trial) (\(victim) killed)"
            #expect(report["status"] as? String == "succeeded", "\(context): \(report["error"] ?? "no run")")
            var executed: [String: Int] = [:]
            for step in steps(report) where step["replayed"] as? Bool != true && step["status"] as? String == "succeeded" {
                let args = (try? JSONSerialization.data(withJSONObject: step["args"] ?? [:], options: .sortedKeys)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                executed["\(step["name"] ?? "") \(args)", default: 0] += 1
            }
            for (step, count) in executed where count > 1 {
                Issue.record("\(context): \(step) finished \(count) times")
            }
            let shown = try await workspace.json(["deployments", "show", name, "--output", "json"]) as? [String: Any]
            let jobs = ((shown?["cluster"] as? [String: Any])?["jobs"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "?") \($0["commands"] ?? "?")" }
            #expect(jobs.count == 5, "\(context): four branch jobs and the migration, none twice; got \(jobs); steps \(steps(report).map { "\($0["attempt"] ?? "") \($0["seq"] ?? "") \($0["name"] ?? "") \($0["args"] ?? "") \($0["status"] ?? "") replayed=\($0["replayed"] ?? "")" })")
        }
        // SQLite's integrity check of the file the kills left; a PostgreSQL server guards its own files.
        if workspace.database == nil {
            let store = try SQLiteStateStore(path: workspace.state, readOnly: true)
            #expect(try store.integrityProblems().isEmpty)
        }
    }

    @Test("a host that dies with thousands of calls in flight: no step is begun or ended after its attempt ended", .timeLimit(.minutes(3)))
    func crashWithCallsInFlight() async throws {
        let workspace = Workspace()
        for trial in 0..<4 {
            let name = "inflight\(trial)"
            try await workspace.deployTestbed(name, behaviour: "crash-mid-gather")
            try await workspace.run(["upgrade", name, "--to", "1.1.0"])
            let listed = try await workspace.json(["runs", "list", "--deployment", name, "--output", "json"]) as? [[String: Any]] ?? []
            let run = try #require(listed.filter { $0["hook"] as? String == "upgrade" }.compactMap { $0["id"] as? Int }.max())
            let report = try await workspace.runShow(run)
            #expect(report["status"] as? String == "failed", "trial \(trial): \(report["error"] ?? "")")
            // The flow's retries make three attempts, each cut off by its host's death.
            var ends: [Int: String] = [:]
            for attempt in report["attempts"] as? [[String: Any]] ?? [] {
                if let number = attempt["attempt"] as? Int, let ended = attempt["ended_at"] as? String { ends[number] = ended }
            }
            let all = (report["actions"] as? [[String: Any]] ?? []).flatMap { $0["steps"] as? [[String: Any]] ?? [] }
            #expect(all.count > 1 && !ends.isEmpty, "trial \(trial): the calls before the crash are recorded")
            // Times are RFC 3339 in one format: their text sorts as they do.
            let late = all.filter { step in
                guard let attempt = step["attempt"] as? Int, let ended = ends[attempt] else { return true }
                return (step["started_at"] as? String ?? "") > ended || (step["ended_at"] as? String ?? "") > ended
            }
            #expect(late.isEmpty, "trial \(trial): \(late.count) steps begun or ended after their attempt ended (\(ends)), e.g. \(late.prefix(2).map { "attempt \($0["attempt"] ?? "?") seq \($0["seq"] ?? "?") \($0["started_at"] ?? "?")" })")
        }
    }

    @Test("a host killed while its job runs: the step stays running, the automatic retry adopts the job, one job in all")
    func hostKilledDuringJob() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 2}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        try await workspace.deployTestbed("hk", behaviour: "ok")
        let engine = try workspace.start(["upgrade", "hk", "--to", "1.1.0", "--fixture", fixture])
        try await waitUntil { (try? JSONSerialization.jsonObject(with: Data(FlowRunnerBinary.runBlocking(
            ["deployments", "show", "hk", "--output", "json"], environment: workspace.environment, in: nil).stdout.utf8)))
            .flatMap { (($0 as? [String: Any])?["cluster"] as? [String: Any])?["jobs"] as? [Any] }?.isEmpty == false }
        let hosts = childPIDs(of: engine.processIdentifier)
        #expect(!hosts.isEmpty, "the host runs while its job does")
        for host in hosts { kill(host, SIGKILL) }
        try await waitUntil(.seconds(60)) { !engine.isRunning }
        #expect(engine.terminationStatus == 0, "@flow(retries=2) retries after the host died")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        let migrations = steps(report).filter { ($0["args"] as? [String: Any])?["commands"] as? [String] == ["migrate --to 1.1.0"] }
        #expect(migrations.map { $0["attempt"] as? Int ?? 0 } == [1, 2])
        #expect(migrations.first?["status"] as? String == "running", "the cut-off step is left for adoption, not failed")
        #expect((migrations.last?["result"] as? [String: Any])?["adopted"] as? Bool == true)
        #expect(try await workspace.jobCount("hk") == 1)
    }

    /// Brings the deployment's upgrade to an end the way an operator would:
    /// `runs retry` on whatever run the crash left (or the upgrade again when
    /// the crash came before the run existed). Returns the run's report.
    func recover(_ deployment: String, workspace: Workspace, fixture: String) async throws -> [String: Any] {
        for _ in 0..<4 {
            let listed = try await workspace.json(["runs", "list", "--deployment", deployment, "--output", "json"]) as? [[String: Any]] ?? []
            guard let run = listed.filter({ $0["hook"] as? String == "upgrade" }).compactMap({ $0["id"] as? Int }).max() else {
                try await workspace.run(["upgrade", deployment, "--to", "1.1.0", "--fixture", fixture])
                continue
            }
            let report = try await workspace.runShow(run)
            if report["status"] as? String == "succeeded" { return report }
            try await workspace.run(["runs", "retry", String(run), "--fixture", fixture])
        }
        let listed = try await workspace.json(["runs", "list", "--deployment", deployment, "--output", "json"]) as? [[String: Any]] ?? []
        let last = listed.compactMap { $0["id"] as? Int }.max() ?? 0
        return try await workspace.runShow(last)
    }
}
