import Foundation
import Testing

/// Retries end to end, the flow's own (`@flow(retries=N)`) and the
/// operator's (`runs retry`): each attempt keeps how it ended, its error and
/// the action's traceback, though only the last one ends the run.
@Suite("Retries end to end (real binary, real Python)")
struct RetryTests {
    @Test("a failure after two steps; after the cause is removed, a retry replays them (no second job) and completes")
    func retryReplays() async throws {
        let workspace = Workspace()
        let cause = try await workspace.deployTestbed("tb", behaviour: "fail-after-two", marker: "cause", markerExists: true)
        let failed = try await workspace.run(["upgrade", "tb", "--to", "1.1.0"])
        #expect(failed.status == 1)
        var report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "failed")
        #expect((report["error"] as? [String: Any])?["message"] as? String == "the cause is still there: \(cause)")
        #expect(try await workspace.jobCount("tb") == 1)

        try FileManager.default.removeItem(atPath: cause)
        // --plan says what the retry would do and changes nothing.
        let attempts = report["attempt"] as? Int ?? 0
        let plan = try await workspace.run(["runs", "retry", "2", "--plan"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("would be attempt \(attempts + 1)") && plan.stdout.contains("2 steps would be replayed"), "\(plan.stdout)")
        #expect(plan.stdout.contains("stop_components") && plan.stdout.contains("replay"), "\(plan.stdout)")
        let planJSON = try await workspace.json(["runs", "retry", "2", "--plan", "--from-step", "2", "--output", "json"]) as? [String: Any]
        let planned = ((planJSON?["actions"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]) ?? []
        #expect(planned.map { $0["plan"] as? String ?? "" } == ["replay", "run"], "\(planJSON ?? [:])")
        #expect(try await workspace.runShow(2)["attempt"] as? Int == attempts, "a plan queues nothing")
        #expect(try await workspace.run(["runs", "retry", "2", "--plan", "--detach"]).status == 2)
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        let attempt = report["attempt"] as? Int ?? 0
        let last = steps(report).filter { $0["attempt"] as? Int == attempt }
        #expect(last.map { $0["name"] as? String ?? "" } == ["stop_components", "execute_commands", "upgrade_deployment_version", "start_components"])
        #expect(last.map { $0["replayed"] as? Bool ?? false } == [true, true, false, false])
        #expect(try await workspace.jobCount("tb") == 1, "the migration job must not run again")
        // The retry cleared the run's error; the attempts that failed keep it (the flow's own retries too).
        #expect(report["error"] is NSNull)
        let ends = report["attempts"] as? [[String: Any]] ?? []
        #expect(ends.map { $0["attempt"] as? Int ?? 0 } == Array(1...attempt), "\(ends)")
        #expect(ends.map { $0["ended_by"] as? String ?? "" } == Array(repeating: "retry", count: attempts - 1) + ["end", "end"])
        #expect(ends.map { $0["status"] as? String ?? "" } == Array(repeating: "failed", count: attempts) + ["succeeded"])
        #expect(ends.dropLast().allSatisfy { ($0["error"] as? [String: Any])?["message"] as? String == "the cause is still there: \(cause)" }, "\(ends)")
        #expect(ends.dropLast().allSatisfy { (($0["error"] as? [String: Any])?["traceback"] as? String)?.contains("Traceback") == true }, "\(ends)")
        #expect(ends.last?["error"] is NSNull && ends.allSatisfy { $0["ended_at"] is String })
        let shown = try await workspace.run(["runs", "show", "2"])
        #expect(shown.stdout.contains("replayed"))
        #expect(shown.stdout.contains("Earlier:  attempt 1 failed, retried by the flow: RuntimeError: the cause is still there: \(cause) (action upgrade)"), "\(shown.stdout)")
        #expect(shown.stdout.contains("attempt \(attempts) failed: RuntimeError: the cause is still there: \(cause) (action upgrade) (traceback: --output json)"), "\(shown.stdout)")
    }

    @Test("@flow(retries=2): an action that fails once succeeds in attempt 2")
    func flowRetries() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "fl", "--driver", "testbed", "--app-version", "1.0.0", "--param", "behaviour=flaky", "--param", "marker=\(workspace.exchange)/flaky"])
        let result = try await workspace.run(["upgrade", "fl", "--to", "1.2.0"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        #expect(report["attempt"] as? Int == 2)
        let action = (report["actions"] as? [[String: Any]])?.first
        #expect(action?["attempts"] as? Int == 2)
    }

    @Test("@flow(retries=2) failing every time: runs show lists three attempts, each with its error and traceback")
    func everyAttemptKeepsItsError() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "af", "--driver", "testbed", "--app-version", "1.0.0", "--param", "behaviour=always-fails",
                                 "--param", "marker=\(workspace.exchange)/always"])
        let result = try await workspace.run(["upgrade", "af", "--to", "1.2.0"])
        #expect(result.status != 0, "\(result.stdout)\(result.stderr)")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "failed")
        #expect(report["attempt"] as? Int == 3)
        let attempts = report["attempts"] as? [[String: Any]] ?? []
        #expect(attempts.map { $0["attempt"] as? Int } == [1, 2, 3])
        #expect(attempts.map { $0["ended_by"] as? String } == ["retry", "retry", "end"])
        #expect(attempts.map { $0["status"] as? String } == ["failed", "failed", "failed"])
        for (index, attempt) in attempts.enumerated() {
            let error = attempt["error"] as? [String: Any] ?? [:]
            #expect(error["action"] as? String == "upgrade")
            #expect(error["type"] as? String == "RuntimeError")
            #expect(error["message"] as? String == "always fails: attempt \(index + 1)")
            let traceback = error["traceback"] as? String ?? ""
            #expect(traceback.contains("Traceback") && traceback.contains("always fails: attempt \(index + 1)"), "\(attempt)")
            #expect((attempt["action_error"] as? [String: Any])?["traceback"] as? String == traceback)
        }
        // The text says how the earlier attempts ended.
        let text = try await workspace.run(["runs", "show", "2"])
        #expect(text.stdout.contains("attempt 1 failed, retried by the flow: "), "\(text.stdout)")
        #expect(text.stdout.contains("always fails: attempt 2"), "\(text.stdout)")
        #expect(!text.stdout.contains("no end recorded"))
    }
}
