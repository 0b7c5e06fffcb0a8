import ActionHost
import FlowModel
import FlowRunner
import Foundation
import Synchronization

/// A test double for the Python host, in the spirit of NIO's
/// `EmbeddedChannel`: each action is a Swift script that makes calls through
/// the engine's handler exactly as the host's wire protocol would (numbered
/// primitive calls, task begin/end), so the engine's replay, retry, cancel
/// and recovery decisions are tested without spawning Python.
final class ScriptedActionRunner: ActionExecuting {
    typealias Script = @Sendable (ScriptedAction) async -> ActionOutcome

    private let scripts: Mutex<[String: Script]>
    private let started = Mutex<[String]>([])

    init(_ scripts: [String: Script] = [:]) {
        self.scripts = Mutex(scripts)
    }

    /// Sets (or replaces) the script of `action`: a retry can run "fixed code".
    func script(_ action: String, _ script: @escaping Script) {
        scripts.withLock { $0[action] = script }
    }

    /// The actions started so far, in order.
    var startedActions: [String] { started.withLock { $0 } }

    func run(_ invocation: ActionInvocation, handler: some ActionCallHandler) async -> ActionOutcome {
        started.withLock { $0.append(invocation.action) }
        guard let script = scripts.withLock({ $0[invocation.action] }) else {
            return .failed("NoScript", "no script for action \(invocation.action)")
        }
        return await script(ScriptedAction(handler: handler, invocation: invocation))
    }
}

/// What a script can do: the calls a Python action makes.
final class ScriptedAction: Sendable {
    let handler: any ActionCallHandler
    let invocation: ActionInvocation
    private let sequence = Mutex(0)

    init(handler: any ActionCallHandler, invocation: ActionInvocation) {
        self.handler = handler
        self.invocation = invocation
    }

    private func nextSequence() -> Int {
        sequence.withLock { value in
            value += 1
            return value
        }
    }

    /// Calls a primitive; a failure reply is thrown as the action would see it.
    func call(_ name: String, _ arguments: JSONValue = [:]) async throws(ActionError) -> JSONValue {
        let reply = await handler.handle(ActionCallRequest(sequence: nextSequence(), call: .primitive(name: name, deployment: nil, arguments: arguments)))
        switch reply {
        case .value(let value): return value
        case .failure(let error): throw error
        case .replayTask, .runTask: throw ActionError(type: "ProtocolError", message: "unexpected task reply to a primitive")
        }
    }

    /// Calls a `@task`: replayed tasks return their recorded value without running `body`.
    func task(_ name: String, _ arguments: JSONValue = [:], body: () async throws(ActionError) -> JSONValue) async throws(ActionError) -> JSONValue {
        let reply = await handler.handle(ActionCallRequest(sequence: nextSequence(), call: .taskBegin(name: name, arguments: arguments)))
        switch reply {
        case .replayTask(let recorded):
            return recorded["json"] ?? .null
        case .runTask(let step):
            let result: Result<JSONValue, ActionError>
            do {
                result = .success(["json": try await body()])
            } catch {
                result = .failure(error)
            }
            let end = await handler.handle(ActionCallRequest(sequence: 0, call: .taskEnd(step: step, result: result, attempts: 1)))
            if case .failure(let error) = end { throw error }
            return try result.get()["json"] ?? .null
        case .failure(let error):
            throw error
        case .value:
            throw ActionError(type: "ProtocolError", message: "unexpected value reply to a task begin")
        }
    }

    /// Makes the call of an offered step as a host that answered it itself
    /// (local replay) reports it; returns the engine's own answer.
    func answeredByHost(_ step: LocalReplayStep) async -> ActionReply {
        let call: ActionCall = step.kind == .task
            ? .taskBegin(name: step.name, arguments: step.arguments)
            : .primitive(name: step.name, deployment: nil, arguments: step.arguments)
        return await handler.handle(ActionCallRequest(sequence: nextSequence(), call: call, answeredByHost: true))
    }

    /// Reports the flow's options, as the host does before the function runs.
    func flowOptions(retries: Int, delaySeconds: Double = 0) {
        handler.flowOptionsRead(FlowOptions(retries: retries, retryDelaySeconds: [delaySeconds]))
    }

    /// Logs a line, as `print` would.
    func print(_ message: String) {
        handler.log(ActionLogLine(level: "info", logger: "stdout", message: message, time: Date().timeIntervalSince1970))
    }

    /// Waits until the action's task is cancelled (a cancel request or a lost lease), then ends cancelled.
    func waitForCancel() async -> ActionOutcome {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return ActionOutcome(status: .cancelled, error: ActionError(type: "Cancelled", message: "cancelled while waiting"))
    }
}

extension ActionOutcome {
    static let succeeded = ActionOutcome(status: .succeeded, value: .null)

    static func failed(_ type: String, _ message: String) -> ActionOutcome {
        ActionOutcome(status: .failed, error: ActionError(type: type, message: message))
    }

    /// The outcome of a script body that threw: the error becomes the action's.
    static func of(_ body: () async throws(ActionError) -> Void) async -> ActionOutcome {
        do {
            try await body()
            return .succeeded
        } catch {
            return ActionOutcome(status: .failed, error: error)
        }
    }
}
