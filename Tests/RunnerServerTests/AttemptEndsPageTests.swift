import ActionHost
import FlowModel
import FlowRunner
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Primitives
import RunnerServer
import StateStore
import Testing

/// The run page, the attempts page and `GET /v1/runs/{id}` of a run whose
/// first two attempts failed with different errors and whose third
/// succeeded, answered by the router in process over an in-memory store.
@Suite("Web: every attempt keeps its error")
struct AttemptEndsPageTests {
    static let first = #"{"action":"upgrade","type":"RuntimeError","message":"the <cause> is still there for hunter2","traceback":"Traceback (most recent call last):\n  File \"actions.py\", line 7, in upgrade\nRuntimeError: the <cause> is still there"}"#
    static let second = #"{"action":"upgrade","type":"ValueError","message":"another & later error"}"#

    /// A store holding deployment `app` (secret config `password` = `hunter2`) and its queued upgrade, run 1.
    static func queuedRun() async throws -> (InMemoryStateStore, RunRecord) {
        let store = InMemoryStateStore()
        let version = try await store.storeDriverVersion(driver: "drv", specVersion: "1", digest: "digest-1", files: []).record
        let deployment = try await store.createDeployment(NewDeployment(
            name: "app", driver: "drv", driverVersionID: version.id, appVersion: "0.1.0", configJSON: #"{"password":"hunter2"}"#,
            cluster: "simulated", secretConfigKeys: ["password"]))
        let run = try await store.createRun(NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: #"{"target_version":"0.2.0"}"#,
                                                   contextJSON: "{}", driverVersionID: version.id, idempotencyKey: nil)).record
        return (store, run)
    }

    /// A store holding run 1 of deployment `app` (as ``queuedRun()``): attempt 1 failed
    /// with ``first``, attempt 2 with ``second``, attempt 3 succeeded.
    static func retriedRun() async throws -> InMemoryStateStore {
        let (store, run) = try await queuedRun()
        for error in [first, second] {
            _ = try #require(try await store.claimNextRun(owner: LeaseOwner(role: "test", processID: 1, host: "h"), leaseDuration: .seconds(30), runID: run.id))
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: error)
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
        }
        _ = try #require(try await store.claimNextRun(owner: LeaseOwner(role: "test", processID: 1, host: "h"), leaseDuration: .seconds(30), runID: run.id))
        try await store.changeRunStatus(id: run.id, to: .succeeded)
        return store
    }

    /// A store holding run 1 of deployment `app` (as ``retriedRun()``): the
    /// flow's own retry handed attempt 1 on after its action failed with a
    /// traceback, attempt 2's worker was given up (its process is gone),
    /// attempt 3 failed.
    static func handedOnRun() async throws -> InMemoryStateStore {
        let (store, run) = try await queuedRun()
        let owner = LeaseOwner(role: "test", processID: 1, host: "h")
        _ = try #require(try await store.claimNextRun(owner: owner, leaseDuration: .seconds(30), runID: run.id))
        let failure = AttemptFailure(
            errorJSON: #"{"action":"upgrade","type":"RuntimeError","message":"flaky <once>"}"#,
            actionErrorJSON: #"{"type":"RuntimeError","message":"flaky <once>","retries":2,"traceback":"Traceback (most recent call last):\n  File \"actions.py\", line 9, in upgrade\nRuntimeError: flaky for hunter2"}"#)
        try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: owner, handingOn: failure)
        _ = try #require(try await store.claimNextRun(owner: owner, leaseDuration: .seconds(30), runID: run.id))
        _ = try #require(try await store.requeueExpiredRun(id: run.id, abandonedOwner: owner))
        _ = try #require(try await store.claimNextRun(owner: owner, leaseDuration: .seconds(30), runID: run.id))
        try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: second)
        return store
    }

    /// The responses to GET `paths`, as text, from a server without a token over `store`.
    static func get(_ paths: [String], from store: any StateStore) async throws -> [(status: HTTPResponse.Status, body: String)] {
        let configuration = EngineConfiguration(actionRunner: NoActions(), driverCacheDirectory: "/nonexistent/flowrunner-tests")
        let engine = Engine(store: store, clusters: SimulatedClusterProvider(store: store), configuration: configuration)
        let app = Application(router: RunnerServer(engine: engine, configuration: RunnerServerConfiguration()).router())
        return try await app.test(.router) { client in
            var answers: [(HTTPResponse.Status, String)] = []
            for path in paths {
                answers.append(try await client.execute(uri: path, method: .get) { ($0.status, String(buffer: $0.body)) })
            }
            return answers
        }
    }

    @Test("the run page lists each attempt's end with its error, the earlier one's traceback too, escaped and masked")
    func runPage() async throws {
        let page = try #require(try await Self.get(["/runs/1"], from: try await Self.retriedRun()).first)
        #expect(page.status == .ok)
        let html = page.body
        #expect(html.contains("Attempt 1: <span class=\"status failed\">failed</span>"), "\(html)")
        #expect(html.contains("<strong>upgrade</strong>: RuntimeError: the &lt;cause&gt; is still there for ***"), "\(html)")
        #expect(html.contains("line 7, in upgrade"), "attempt 1's traceback")
        #expect(html.contains("Attempt 2: <span class=\"status failed\">failed</span>"))
        #expect(html.contains("ValueError: another &amp; later error"))
        #expect(html.contains("Attempt 3: <span class=\"status succeeded\">succeeded</span>"))
        #expect(!html.contains("hunter2") && !html.contains("<cause>"), "secrets masked, text escaped")
    }

    @Test("the run page shows a retried attempt's error with its traceback and a recovered one's lost worker; the JSON says what ended each")
    func handedOnAttempts() async throws {
        let answers = try await Self.get(["/runs/1", "/v1/runs/1", "/runs/1/attempts?a=1&b=2"], from: try await Self.handedOnRun())
        #expect(answers.allSatisfy { $0.status == .ok })
        let html = answers[0].body
        #expect(html.contains("Attempt 1: <span class=\"status failed\">failed</span>, retried by the flow at"), "\(html)")
        #expect(html.contains("<strong>upgrade</strong>: RuntimeError: flaky &lt;once&gt;"), "\(html)")
        #expect(html.contains("line 9, in upgrade") && html.contains("RuntimeError: flaky for ***"), "attempt 1's traceback, masked")
        #expect(html.contains("Attempt 2: <span class=\"status failed\">failed</span>, its worker was lost; recovered at"), "\(html)")
        #expect(html.contains("WorkerGone: worker test:1@h is gone") || html.contains("WorkerGone: worker "), "\(html)")
        #expect(!html.contains("no end recorded") && !html.contains("hunter2"))
        #expect(answers[2].body.contains("line 9, in upgrade"), "the attempts page shows it too")

        let report = try #require(JSONValue(storedText: answers[1].body))
        let attempts = try #require(report["attempts"]?.arrayValue)
        #expect(attempts.compactMap { $0["ended_by"]?.stringValue } == ["retry", "recovery", "end"])
        #expect(attempts[0]["error"]?["traceback"]?.stringValue?.contains("line 9, in upgrade") == true)
        #expect(attempts[0]["action_error"]?["retries"]?.intValue == 2)
        #expect(attempts[1]["error"]?["type"]?.stringValue == "WorkerGone")
        #expect(attempts[2]["error"]?["type"]?.stringValue == "ValueError")
    }

    @Test("the attempts page shows how both compared attempts ended above their steps")
    func attemptsPage() async throws {
        let pages = try await Self.get(["/runs/1/attempts?a=1&b=2", "/runs/1/attempts"], from: try await Self.retriedRun())
        let (chosen, latest) = (pages[0].body, pages[1].body)
        #expect(pages.allSatisfy { $0.status == .ok })
        #expect(chosen.contains("RuntimeError: the &lt;cause&gt; is still there for ***") && chosen.contains("ValueError: another &amp; later error"), "\(chosen)")
        #expect(chosen.contains("line 7, in upgrade"))
        let ends = try #require(chosen.range(of: "How they ended")), steps = try #require(chosen.range(of: "</form>", options: .backwards))
        #expect(ends.lowerBound > steps.lowerBound, "the ends come after the form, above the step tables")
        // By default the last two attempts: 2 (failed) beside 3 (succeeded).
        #expect(latest.contains("ValueError: another &amp; later error") && latest.contains("Attempt 3: <span class=\"status succeeded\">succeeded</span>"))
        #expect(!latest.contains("RuntimeError"), "\(latest)")
    }

    @Test("GET /v1/runs/{id} lists the attempts with their errors")
    func runJSON() async throws {
        let answer = try #require(try await Self.get(["/v1/runs/1"], from: try await Self.retriedRun()).first)
        #expect(answer.status == .ok)
        let report = try #require(JSONValue(storedText: answer.body))
        let attempts = try #require(report["attempts"]?.arrayValue)
        #expect(attempts.compactMap { $0["attempt"]?.intValue } == [1, 2, 3])
        #expect(attempts.compactMap { $0["status"]?.stringValue } == ["failed", "failed", "succeeded"])
        #expect(attempts[0]["error"]?["message"]?.stringValue == "the <cause> is still there for ***")
        #expect(attempts[1]["error"]?["type"]?.stringValue == "ValueError")
        #expect(attempts[2]["error"] == .null)
        #expect(attempts.allSatisfy { $0["ended_at"]?.stringValue != nil })
        #expect(report["error"] == .null, "the run's own error went with the retry")
    }
}

/// An action runner for a server that runs nothing.
struct NoActions: ActionExecuting {
    func run(_ invocation: ActionInvocation, handler: some ActionCallHandler) async -> ActionOutcome {
        ActionOutcome(status: .failed)
    }
}
