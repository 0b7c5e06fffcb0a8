import ActionHost
import DriverSpec
import FlowModel
import Foundation
import StateStore

/// One action of one attempt: reads the step history, runs the action (or
/// the built-in core) with its calls served by an ``ActionCallRouter``, and
/// stops it when a cancel is requested from any process.
struct ActionExecution {
    let attempt: RunAttempt
    let entry: HookPlan.Entry
    let actionRun: ActionRunRecord
    let inputs: JSONValue
    /// How the action's previous attempt ended (its stored error; nil when it
    /// was cut off or never ran): decides how strictly steps replay.
    let previousErrorJSON: String?

    enum End {
        case succeeded
        case failed(ActionError, FlowOptions?)
        case cancelled(ActionError)

        /// The same ending with the error's traceback naming files under
        /// `directory` (the stored copy) at `source` (the author's directory).
        func locating(_ directory: String, at source: String?) -> End {
            guard let source, source != directory else { return self }
            func moved(_ error: ActionError) -> ActionError {
                var error = error
                error.traceback = error.traceback?.replacingOccurrences(of: "\"" + directory + "/", with: "\"" + source + "/")
                return error
            }
            switch self {
            case .succeeded: return .succeeded
            case .failed(let error, let options): return .failed(moved(error), options)
            case .cancelled(let error): return .cancelled(moved(error))
            }
        }

        /// The same ending with the error's secrets masked.
        func masked(_ masking: SecretMasking) -> End {
            switch self {
            case .succeeded: .succeeded
            case .failed(let error, let options): .failed(masking.error(error), options)
            case .cancelled(let error): .cancelled(masking.error(error))
            }
        }
    }

    var run: RunRecord { attempt.run }
    var store: any StateStore { attempt.store }

    func run() async -> End {
        let previousSteps: [StepRecord]
        do {
            previousSteps = try await store.steps(actionRunID: actionRun.id)
        } catch {
            // Without the history nothing could be replayed safely: fail rather than redo finished steps.
            return .failed(ActionError(type: "EngineError", message: "cannot read the step history of action \(entry.name): \(error)"), nil)
        }
        let journal = StepJournal(
            store: store, actionRunID: actionRun.id, attempt: run.attempt, previousSteps: previousSteps,
            policy: ReplayPolicy(storedJSON: run.replayJSON).following(previousErrorJSON: previousErrorJSON)
        )
        let logs = LogSink(store: store, runID: run.id, action: entry.name, attempt: run.attempt, observer: attempt.observer, lease: attempt.lease)
        let options = FlowOptionsBox()
        let router = ActionCallRouter(
            journal: journal, logs: logs, observer: attempt.observer, action: entry.name, runID: run.id, attempt: run.attempt,
            deployment: attempt.deployment, spec: attempt.spec, cluster: attempt.cluster,
            defaultTimeout: attempt.engine.configuration.actionTimeout ?? .seconds(600), flowOptions: options,
            masking: attempt.masking, values: attempt.values, lease: attempt.lease
        )
        let work = startWork(router: router, localReplay: entry.action == nil ? [] : await journal.localReplay())
        let watch = Task { await watchForCancel(cancelling: work) }
        let outcome = await withTaskCancellationHandler {
            await work.value
        } onCancel: {
            work.cancel()
        }
        watch.cancel()
        var engineProblems: [String] = []
        do {
            try await journal.closeUnfinished(reason: outcome.error?.message ?? "the action ended before the step did")
        } catch {
            let problem = "cannot record the end of its steps: \(error)"
            engineProblems.append(problem)
            // Said whatever the action's outcome (a failed action's error is the action's own).
            logs.append(level: "error", logger: "flowrunner", message: problem, time: Date().timeIntervalSince1970)
        }
        if outcome.logBytesDropped > 0 {
            logs.append(level: "warning", logger: "flowrunner", message: "\(outcome.logBytesDropped) bytes of log output were dropped (cap reached)", time: Date().timeIntervalSince1970)
        }
        if let lost = await logs.close() {
            engineProblems.append(lost)
        }
        switch outcome.status {
        case .succeeded where engineProblems.isEmpty:
            return .succeeded
        case .succeeded:
            return .failed(ActionError(type: "EngineError", message: "action \(entry.name) ran, but " + engineProblems.joined(separator: "; ")), nil)
        case .cancelled:
            return .cancelled(outcome.error ?? ActionError(type: "Cancelled", message: "the action was cancelled"))
        case .failed, .timedOut:
            var error = outcome.error ?? ActionError(type: "Exception", message: "the action failed")
            if error.type == "Timeout" { error.message += "; the action's process group was stopped" }
            if !engineProblems.isEmpty { error.message += " (and the engine " + engineProblems.joined(separator: "; ") + ")" }
            return .failed(error, outcome.flowOptions ?? options.get())
        }
    }

    /// Starts the declared action in the action runner (offering the host
    /// `localReplay`, the calls it may answer itself), or the built-in core.
    func startWork(router: ActionCallRouter, localReplay: [LocalReplayStep]) -> Task<ActionOutcome, Never> {
        guard let action = entry.action else {
            let name = entry.name, spec = attempt.spec, inputs = inputs
            return Task { await BuiltInCore.run(action: name, spec: spec, inputs: inputs, router: router) }
        }
        let deployment = attempt.deployment
        var invocation = ActionInvocation(
            action: entry.name, driverDirectory: attempt.driverDirectory, file: action.location.file, function: action.location.function,
            arguments: [
                "context": JSONValue(storedText: run.contextJSON) ?? .object([:]),
                "deployment_id": .string(deployment.name),
                "target_version": inputs["target_version"] ?? .null,
                "current_version": inputs["current_version"] ?? .null,
                "parameters": inputs["parameters"] ?? .object([:]),
                "backup_id": inputs["backup_id"] ?? .null,
            ],
            flowRun: [
                "id": .string(String(run.id)), "name": .string("\(attempt.hook.rawValue)-\(deployment.name)-\(entry.name)"),
                "parameters": inputs["parameters"] ?? .object([:]),
            ],
            timeout: attempt.engine.configuration.actionTimeout
        )
        invocation.driverDirectoryIsEngineCopy = attempt.engine.configuration.driverDirectoryOverride == nil
        invocation.localReplay = localReplay
        let runner = attempt.engine.configuration.actionRunner
        return Task { await runner.run(invocation, handler: router) }
    }

    /// While the action works, looks for a cancel request (from this process
    /// or another) whenever the store tells of a status change of the run,
    /// and every poll interval; one ends the action's task. A store that
    /// cannot be read is retried at the next poll.
    func watchForCancel(cancelling work: Task<ActionOutcome, Never>) async {
        let interval = attempt.engine.configuration.pollInterval
        while !Task.isCancelled {
            await store.waitForChange(.status, ofRun: run.id, timeout: interval)
            if Task.isCancelled { return }
            if let current = try? await store.run(id: run.id), current.status == .cancelling || current.status.isFinished {
                work.cancel()
                return
            }
        }
    }
}
