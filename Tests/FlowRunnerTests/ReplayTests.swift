import ActionHost
import FlowModel
import FlowRunner
import Foundation
import StateStore
import Synchronization
import Testing

/// Replay decisions of the step journal, driven through the real engine and
/// scheduler with a scripted action runner.
@Suite("Replay: by occurrence, divergence, --from-step, --restart")
struct ReplayTests {
    @Test("a retry replays the n-th call with the same kind, name and arguments, whatever order the calls come in")
    func replayByOccurrence() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let bodies = BodyCounter()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.task("fetch", ["n": 1]) { bodies.ran("fetch-1") }
                _ = try await action.task("fetch", ["n": 2]) { bodies.ran("fetch-2") }
                _ = try await action.task("fetch", ["n": 1]) { bodies.ran("fetch-1") }
                throw ActionError(type: "RuntimeError", message: "the cause is still there")
            }
        }
        let failed = try await harness.upgrade()
        #expect(failed.status == .failed)
        #expect(bodies["fetch-1"] == 2 && bodies["fetch-2"] == 1)

        // The fixed action makes the same calls in another order (as concurrent branches might).
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                let second = try await action.task("fetch", ["n": 2]) { bodies.ran("fetch-2") }
                let first = try await action.task("fetch", ["n": 1]) { bodies.ran("fetch-1") }
                let third = try await action.task("fetch", ["n": 1]) { bodies.ran("fetch-1") }
                guard second == "fetch-2#1", first == "fetch-1#1", third == "fetch-1#2" else {
                    throw ActionError(type: "AssertionError", message: "replayed \(first) \(second) \(third)")
                }
                _ = try await action.call("get_deployment_version")
            }
        }
        _ = try await harness.engine.requestRetry(runID: failed.id)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded, "\(done.errorJSON ?? "")")
        #expect(bodies["fetch-1"] == 2 && bodies["fetch-2"] == 1, "no task body ran again")
        #expect(try await harness.attemptSteps(failed.id, attempt: 2) == [
            "fetch (replayed)", "fetch (replayed)", "fetch (replayed)", "get_deployment_version",
        ])
    }

    @Test("a call that differs from the record stops replay there: it and every later call run, and the divergence is recorded")
    func divergence() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let bodies = BodyCounter()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.task("a") { bodies.ran("a") }
                _ = try await action.task("b", ["v": 1]) { bodies.ran("b") }
                _ = try await action.task("c") { bodies.ran("c") }
                throw ActionError(type: "RuntimeError", message: "boom")
            }
        }
        let failed = try await harness.upgrade()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.task("a") { bodies.ran("a") }
                _ = try await action.task("b", ["v": 2]) { bodies.ran("b") }
                _ = try await action.task("c") { bodies.ran("c") }
            }
        }
        _ = try await harness.engine.requestRetry(runID: failed.id)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded)
        #expect(try await harness.attemptSteps(failed.id, attempt: 2) == ["a (replayed)", "b", "c"])
        #expect(bodies["a"] == 1 && bodies["b"] == 2 && bodies["c"] == 2, "after the divergence even the matching call c runs for real")
        let diverged = try #require(try await harness.steps(failed.id).first { $0.attempt == 2 && $0.seq == 2 })
        let message = JSONValue(storedText: diverged.divergenceJSON)?["message"]?.stringValue ?? ""
        #expect(message.contains("replay stopped") && message.contains("different arguments"), "\(message)")
    }

    @Test("--from-step N replays only the steps before N; --restart replays nothing")
    func replayOptions() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let bodies = BodyCounter()
        let failing = ScriptedFailure()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                for name in ["one", "two", "three"] {
                    _ = try await action.task(name) { bodies.ran(name) }
                }
                if failing.isOn { throw ActionError(type: "RuntimeError", message: "still failing") }
            }
        }
        let failed = try await harness.upgrade()
        #expect(failed.status == .failed)

        _ = try await harness.engine.requestRetry(runID: failed.id, replay: .fromStep(3))
        _ = try await harness.scheduler().work(runID: failed.id)
        #expect(try await harness.attemptSteps(failed.id, attempt: 2) == ["one (replayed)", "two (replayed)", "three"])

        failing.turnOff()
        _ = try await harness.engine.requestRetry(runID: failed.id, replay: .restart)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded)
        #expect(try await harness.attemptSteps(failed.id, attempt: 3) == ["one", "two", "three"])
        #expect(bodies["one"] == 2 && bodies["two"] == 2 && bodies["three"] == 3)
    }

    @Test("an action that succeeded in an earlier attempt is skipped; the built-in core's step replays like an action's")
    func skipsSucceededActions() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { _ in .failed("RuntimeError", "core fails") }
        let failed = try await harness.upgrade()
        #expect(harness.runner.startedActions == ["prepare", "upgrade"])
        harness.runner.script("upgrade") { _ in .succeeded }
        _ = try await harness.engine.requestRetry(runID: failed.id)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded)
        #expect(harness.runner.startedActions == ["prepare", "upgrade", "upgrade"], "prepare succeeded before and is not run again")
        let deployment = try #require(try await harness.store.deployment(named: "app"))
        #expect(deployment.appVersion == "1.1.0")
    }
}

/// A switch a script reads: on until a test turns it off (the cause of a failure removed).
final class ScriptedFailure: Sendable {
    private let on = Mutex(true)

    var isOn: Bool { on.withLock { $0 } }

    func turnOff() { on.withLock { $0 = false } }
}
