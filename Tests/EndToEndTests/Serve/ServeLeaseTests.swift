import Foundation
import Testing

/// A worker paused past its lease (SIGSTOP, a frozen VM) while another
/// `serve` takes its run over: README "Lease fence".
@Suite("serve: a worker paused past its lease")
struct ServeLeaseTests {
    /// my-app whose upgrade makes `calls` calls, `pause` seconds apart.
    static func slowDriver(_ workspace: Workspace, calls: Int, pause: Double) throws -> String {
        let driver = workspace.directory + "/slow-app"
        try FileManager.default.copyItem(atPath: RenderTests.myApp, toPath: driver)
        try """
            import asyncio

            from prefect import flow
            from styrmin_backend.actions import GlobalContext, get_component_images


            @flow
            async def upgrade(context: GlobalContext, target_version: str):
                for number in range(\(calls)):
                    print("call", number)
                    await get_component_images(component="server", context=context)
                    await asyncio.sleep(\(pause))

            """.write(toFile: driver + "/actions.py", atomically: true, encoding: .utf8)
        return driver
    }

    /// The lines of `log` that tell of `event` for run `id`.
    static func said(_ log: String, _ event: String, run id: Int) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains("run_id=\(id) ") && $0.contains(event) }
    }

    @Test("the paused worker records no step and no log line after it resumes; the worker that took the run over finishes it",
          .timeLimit(.minutes(5)))
    func pausedWorkerRecordsNothingMore() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", try Self.slowDriver(workspace, calls: 40, pause: 0.25)])
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        let servers = [
            try await ServeProcess(workspace, arguments: ["--lease", "3", "--log-level", "info"]),
            try await ServeProcess(workspace, arguments: ["--lease", "3", "--log-level", "info"]),
        ]
        let id = try #require(try await servers[0].request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "0.2.0"]).runID)
        func attemptSteps(_ attempt: Int, via server: ServeProcess) async throws -> Int {
            let report = try await server.request(.GET, "/v1/runs/\(id)").object
            let steps = (report["actions"] as? [[String: Any]] ?? []).flatMap { $0["steps"] as? [[String: Any]] ?? [] }
            return steps.filter { $0["attempt"] as? Int == attempt }.count
        }
        // Wait until the action has made a few calls, then pause the server working it (its host goes on calling).
        var start = ContinuousClock.now
        while try await attemptSteps(1, via: servers[1]) < 3, ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let paused = try #require(servers.first { !Self.said($0.log, "run claimed", run: id).isEmpty })
        let other = try #require(servers.first { $0 !== paused })
        kill(paused.process.processIdentifier, SIGSTOP)
        // The lease (3 s) runs out; the other server recovers the run into attempt 2 and works it.
        start = ContinuousClock.now
        var attempt = 1
        while attempt < 2, ContinuousClock.now - start < .seconds(60) {
            attempt = try await other.request(.GET, "/v1/runs/\(id)").object["attempt"] as? Int ?? 1
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(attempt == 2, "the other server took the run over")
        func attemptLogLines(_ attempt: Int) async throws -> Int {
            let lines = try await other.request(.GET, "/v1/runs/\(id)/logs").object["lines"] as? [[String: Any]] ?? []
            return lines.filter { $0["attempt"] as? Int == attempt }.count
        }
        let before = try await attemptSteps(1, via: other)
        let linesBefore = try await attemptLogLines(1)
        kill(paused.process.processIdentifier, SIGCONT)
        let report = try await other.waitForRun(id, limit: .seconds(120))
        #expect(report["status"] as? String == "succeeded", "\(report["error"] ?? "")")
        // Its queued call was refused (not recorded), and its attempt stopped.
        start = ContinuousClock.now
        while Self.said(paused.log, "run released", run: id).isEmpty, ContinuousClock.now - start < .seconds(30) {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await attemptSteps(1, via: other) == before, "no step of attempt 1 begun after the pause: \(report)")
        #expect(try await attemptLogLines(1) == linesBefore, "no log line of attempt 1 stored after the pause")
        let released = Self.said(paused.log, "run released", run: id)
        #expect(released.count == 1 && released.allSatisfy { $0.contains("lease on run \(id)") }, "\(paused.log)")
        #expect(try await attemptSteps(2, via: other) == 40, "attempt 2 replays and finishes every call")
        for server in servers { try await server.stop(SIGTERM) }
    }
}
