import ActionHost
import FlowModel
import FlowRunner
import Foundation
import StateStore
import Synchronization
import Testing

/// What the engine offers the host for local replay (``LocalReplayStep``)
/// and how it records the calls the host answered, through the real engine
/// with a scripted action runner.
@Suite("Local replay: what the engine offers and how it checks it")
struct LocalReplayTests {
    /// The steps the last attempt of `action` was offered.
    final class Offered: Sendable {
        let steps = Mutex<[LocalReplayStep]?>(nil)
        func keep(_ action: ScriptedAction) { steps.withLock { $0 = action.invocation.localReplay } }
        var names: [String] { steps.withLock { $0 ?? [] }.map(\.name) }
    }

    /// A deployed harness whose upgrade action keeps what it is offered in `offered`, then runs `body`.
    static func harness(
        keeping offered: Offered, _ body: @escaping @Sendable (ScriptedAction) async throws(ActionError) -> Void
    ) async throws -> EngineHarness {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { action in
            offered.keep(action)
            return await .of { () async throws(ActionError) in try await body(action) }
        }
        return harness
    }

    @Test("a retry offers every call it would replay, in call order, with the recorded results; a replayed task's inner calls are not offered")
    func offersWhatWouldReplay() async throws {
        let failing = ScriptedFailure(), offered = Offered()
        let harness = try await Self.harness(keeping: offered) { action async throws(ActionError) in
            _ = try await action.task("prepare", ["n": 1]) { () async throws(ActionError) -> JSONValue in
                _ = try await action.call("get_deployment_version")
                return ["prepared": true]
            }
            _ = try await action.call("get_deployment_version")
            _ = try await action.task("last") { "done" }
            if failing.isOn { throw ActionError(type: "RuntimeError", message: "still failing") }
        }
        let failed = try await harness.upgrade()
        #expect(failed.status == .failed)
        #expect(offered.names.isEmpty, "a first attempt has nothing to replay")

        failing.turnOff()
        _ = try await harness.engine.requestRetry(runID: failed.id)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded, "\(done.errorJSON ?? "")")
        let steps = offered.steps.withLock { $0 ?? [] }
        #expect(steps.map(\.name) == ["prepare", "get_deployment_version", "last"])
        #expect(steps.map(\.kind) == [.task, .primitive, .task])
        #expect(steps.first?.arguments == ["n": 1])
        #expect(steps.first?.result["json"] == ["prepared": true])
        let recorded = try await harness.steps(failed.id).filter { $0.attempt == 1 && $0.name == "get_deployment_version" && $0.seq == 3 }
        #expect(steps.dropFirst().first?.resultJSON == recorded.first?.resultJSON)
    }

    @Test("--from-step N offers only the calls before N; --restart and a failed call's successors offer nothing past them")
    func offersWithinThePolicy() async throws {
        let failing = ScriptedFailure(), offered = Offered()
        let harness = try await Self.harness(keeping: offered) { action async throws(ActionError) in
            for name in ["one", "two", "three"] {
                _ = try await action.task(name) { .string(name) }
            }
            _ = try await action.task("fails") { () async throws(ActionError) -> JSONValue in
                if failing.isOn { throw ActionError(type: "RuntimeError", message: "still failing") }
                return "fixed"
            }
        }
        let failed = try await harness.upgrade()
        #expect(failed.status == .failed)

        _ = try await harness.engine.requestRetry(runID: failed.id)
        _ = try await harness.scheduler().work(runID: failed.id)
        #expect(offered.names == ["one", "two", "three"], "the failed task is not offered")

        _ = try await harness.engine.requestRetry(runID: failed.id, replay: .fromStep(3))
        _ = try await harness.scheduler().work(runID: failed.id)
        #expect(offered.names == ["one", "two"])

        _ = try await harness.engine.requestRetry(runID: failed.id, replay: .restart)
        _ = try await harness.scheduler().work(runID: failed.id)
        #expect(offered.names.isEmpty)
    }

    @Test("calls the host answered are recorded as replayed, numbered in order, and the action goes on with the engine")
    func recordsAnsweredCalls() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let failing = ScriptedFailure(), bodies = BodyCounter()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                let offered = action.invocation.localReplay
                if offered.isEmpty {
                    _ = try await action.task("a") { bodies.ran("a") }
                    _ = try await action.call("get_deployment_version")
                    _ = try await action.task("b") { bodies.ran("b") }
                } else {
                    // As the host does: the offered calls answered locally, reported in order.
                    for step in offered {
                        let reply = await action.answeredByHost(step)
                        let agrees = switch reply {
                        case .value(let value), .replayTask(let value): value == step.result
                        default: false
                        }
                        guard agrees else { throw ActionError(type: "AssertionError", message: "the engine answered \(reply)") }
                    }
                }
                if failing.isOn { throw ActionError(type: "RuntimeError", message: "still failing") }
            }
        }
        let failed = try await harness.upgrade()
        failing.turnOff()
        _ = try await harness.engine.requestRetry(runID: failed.id)
        let done = try await harness.scheduler().work(runID: failed.id)
        #expect(done.status == .succeeded, "\(done.errorJSON ?? "")")
        #expect(try await harness.attemptSteps(failed.id, attempt: 2) == ["a (replayed)", "get_deployment_version (replayed)", "b (replayed)"])
        #expect(bodies["a"] == 1 && bodies["b"] == 1)
    }

    @Test("a call the host says it answered, which the engine would run, is not run: the step fails and the action learns why")
    func answeredButNotReplayable() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let reply = Mutex<ActionReply?>(nil)
        harness.runner.script("upgrade") { action in
            let answer = await action.answeredByHost(LocalReplayStep(kind: .primitive, name: "start_components", arguments: ["components": ["server"]],
                                                                    resultJSON: nil))
            reply.withLock { $0 = answer }
            return .failed("ProtocolError", "the engine disagreed")
        }
        let failed = try await harness.upgrade()
        #expect(failed.status == .failed)
        guard case .failure(let error)? = reply.withLock({ $0 }) else {
            Issue.record("expected a failure reply")
            return
        }
        #expect(error.message.contains("answered by the action host from its record"), "\(error)")
        let steps = try await harness.steps(failed.id)
        #expect(steps.map(\.status) == [.failed], "recorded as failed, not run")
    }
}
