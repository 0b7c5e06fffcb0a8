import ActionHost
import DriverSpec
import FlowModel
import Foundation
import Primitives
public import StateStore

extension Engine {
    /// Works one attempt of a run that `owner` has claimed (the Scheduler's
    /// job): plans the hook, skips actions that succeeded before, runs the
    /// rest with step checkpoints and replay, and settles the run. Stops the
    /// action at a cancel request from any process; cancelling the calling
    /// task (the lease was lost) stops it too, and then nothing more is written.
    /// With `lease`, each call of the action is refused once the lease may
    /// have run out (see ``LeaseFence``), before anything is recorded or run.
    ///
    /// Throws only when the store fails before the attempt could start;
    /// every later failure ends the run `failed` with the reason.
    public func runAttempt(
        _ run: RunRecord, owner: LeaseOwner, lease: LeaseFence? = nil, observer: (any RunObserver)? = nil
    ) async throws(EngineError) -> AttemptOutcome {
        var run = run
        let driver: LoadedDriverVersion
        let directory: String
        let deployment: DeploymentRecord
        let cluster: any ClusterBackend
        do throws(EngineError) {
            driver = try await loadDriver(versionID: run.driverVersionID)
            if let override = configuration.driverDirectoryOverride {
                directory = override
            } else {
                directory = try driverDirectory(for: driver.snapshot)
            }
            guard let found = try await stored({ () async throws(StateStoreError) in try await store.deployment(id: run.deploymentID) }) else {
                throw EngineError(.failed, "run \(run.id) names deployment \(run.deploymentID), which is not stored")
            }
            deployment = found
            if found.deletedAt != nil, run.hook != .delete {
                throw EngineError(.failed, "deployment \(found.name) was deleted; its run \(run.id) (\(run.hook.rawValue)) can no longer start")
            }
            cluster = try await self.cluster(of: deployment)
            run = try await refreezeIfWaited(run, deployment: deployment, driver: driver)
            let admitted = try await admitAttempt(run, deployment: deployment, driver: driver)
            run = admitted.run
            if let problem = admitted.problem { throw EngineError(.refused, problem) }
        } catch {
            return .finished(try await fail(run, action: nil, type: "EngineError", message: error.message))
        }
        var secrets = SecretParameters(spec: driver.spec)
        secrets.configKeys = Set(deployment.secretConfigKeys)
        let masking = SecretMasking(secrets: secrets, inputsJSON: run.inputsJSON, configJSON: deployment.configJSON)
        var values: RunValues?
        if let renderer = configuration.valuesRenderer, let template = HelmValues.template(of: driver.snapshot),
           let context = JSONValue(storedText: run.contextJSON) {
            values = RunValues(template: template, context: context, renderer: renderer)
        }
        let attempt = RunAttempt(
            engine: self, run: run, owner: owner, lease: lease, deployment: deployment, hook: run.hook, spec: driver.spec,
            driverDirectory: directory, cluster: cluster, values: values,
            observer: masking.isEmpty ? observer : observer.map { MaskingRunObserver(wrapped: $0, masking: masking) },
            masking: masking,
            // Tracebacks of stored files name the author's copy (where the driver was loaded from).
            sourceDirectory: configuration.driverDirectoryOverride == nil ? driver.record.sourceDirectory : nil
        )
        let outcome: AttemptOutcome
        do {
            outcome = try await attempt.execute()
        } catch {
            if Task.isCancelled { return .released(run, reason: "the attempt was stopped: \(error.message)") }
            // The engine itself failed mid-attempt: end the run rather than leave it running.
            if let current = try? await store.run(id: run.id), !current.status.isFinished, current.leaseOwner == owner {
                return .finished(try await fail(current, action: nil, type: "EngineError", message: error.message))
            }
            throw error
        }
        do {
            try await cluster.commit()
        } catch {
            observer?.logged(action: nil, level: "warning", logger: "flowrunner", message: "cannot save the cluster's state: \(error.message)")
        }
        return outcome
    }

    /// Ends a run as failed with an engine-side reason.
    func fail(_ run: RunRecord, action: String?, type: String, message: String) async throws(EngineError) -> RunRecord {
        var error: [String: JSONValue] = ["type": .string(type), "message": .string(message)]
        error["action"] = action.map(JSONValue.string) ?? .null
        return try await stored { () async throws(StateStoreError) in
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: Engine.json(.object(error)))
        }
    }
}

/// One attempt of one run: plans the hook, skips actions that succeeded
/// before, runs the rest in order, and settles the run's status.
struct RunAttempt {
    let engine: Engine
    let run: RunRecord
    let owner: LeaseOwner
    /// The worker's lease on the run, fencing each call (nil: not fenced).
    let lease: LeaseFence?
    let deployment: DeploymentRecord
    let hook: Hook
    let spec: DriverSpecification
    let driverDirectory: String
    let cluster: any ClusterBackend
    /// The Helm values install and upgrade apply (nil: none).
    let values: RunValues?
    let observer: (any RunObserver)?
    /// The run's secret values, hidden in what is shown (see ``SecretMasking``).
    let masking: SecretMasking
    /// Where the stored driver files were loaded from, if known.
    let sourceDirectory: String?

    var store: any StateStore { engine.store }

    func stored<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        try await engine.stored(body)
    }

    func execute() async throws(EngineError) -> AttemptOutcome {
        let inputs = try await engine.attemptInputs(run, deployment: deployment)
        let plan = HookPlan(spec: spec, hook: hook, inputs: inputs)
        let recorded = try await stored { () async throws(StateStoreError) in
            try await store.planActionRuns(runID: run.id, actions: plan.entries.map { ($0.name, $0.mode) })
        }
        if let failure = await valuesFailure(inputs: inputs) {
            return .finished(try await engine.fail(run, action: nil, type: "ValuesError", message: masking.text(failure)))
        }
        for entry in plan.entries {
            guard let actionRun = recorded.first(where: { $0.name == entry.name }) else { continue }
            if actionRun.status == .succeeded {
                observer?.actionSkipped(action: entry.name, mode: entry.mode)
                continue
            }
            let current = try await currentRun()
            if current.leaseOwner != owner || current.attempt != run.attempt {
                return .released(current, reason: "another worker holds run \(run.id)")
            }
            if current.status == .cancelling {
                return .finished(try await settleCancelled(action: nil, message: "cancelled before action \(entry.name) started"))
            }
            let isolation = entry.action == nil ? nil : engine.configuration.actionRunner.isolationLabel
            let started = try await stored { () async throws(StateStoreError) in
                try await store.changeActionRunStatus(id: actionRun.id, to: .running, errorJSON: nil, isolation: isolation)
            }
            observer?.actionStarted(action: entry.name, mode: entry.mode, attempt: started.attempts)
            // Whatever the action's failure says, secret values are masked before it is stored or shown.
            let end = await ActionExecution(attempt: self, entry: entry, actionRun: started, inputs: inputs, previousErrorJSON: actionRun.errorJSON)
                .run().masked(masking).locating(URL(fileURLWithPath: driverDirectory).resolvingSymlinksInPath().path, at: sourceDirectory)
            // A worker whose attempt was stopped (its lease was lost, or it is shutting down) writes nothing more.
            if Task.isCancelled {
                return .released(run, reason: "the attempt was stopped before action \(entry.name) ended")
            }
            let after = try await currentRun()
            guard after.leaseOwner == owner, after.attempt == run.attempt else {
                return .released(after, reason: "another worker holds run \(run.id)")
            }
            switch end {
            case .succeeded:
                try await stored { () async throws(StateStoreError) in _ = try await store.changeActionRunStatus(id: actionRun.id, to: .succeeded) }
                observer?.actionEnded(action: entry.name, status: "succeeded", error: nil)
            case .cancelled(let error):
                try await stored { () async throws(StateStoreError) in
                    _ = try await store.changeActionRunStatus(id: actionRun.id, to: .cancelled, errorJSON: Self.errorJSON(error))
                }
                observer?.actionEnded(action: entry.name, status: "cancelled", error: error.description)
                return .finished(try await settleCancelled(action: entry.name, message: error.message))
            case .failed(let error, let options):
                return try await settleFailed(entry: entry, actionRun: started, error: error, options: options, cancelRequested: after.status == .cancelling)
            }
        }
        try await settleHook(inputs: inputs)
        return .finished(try await stored { () async throws(StateStoreError) in try await store.changeRunStatus(id: run.id, to: .succeeded) })
    }

    /// Why the values the hook applies do not render at the run's target
    /// version, if they do not: found before any action changes the cluster.
    /// A renderer started early for this run is stopped then, whether it was used or not.
    func valuesFailure(inputs: JSONValue) async -> String? {
        var failure: String?
        if let values, let target = inputs["target_version"]?.stringValue {
            do {
                _ = try await values.values(appVersion: target)
            } catch {
                failure = error.message
            }
        }
        await engine.configuration.valuesRenderer?.release()
        return failure
    }

    func currentRun() async throws(EngineError) -> RunRecord {
        guard let current = try await stored({ () async throws(StateStoreError) in try await store.run(id: run.id) }) else {
            throw EngineError(.failed, "run \(run.id) vanished from the state store")
        }
        return current
    }

    /// Records a failed action and ends the run, or queues its next attempt
    /// when `@flow(retries=N)` has retries left (through the same retry path
    /// as an operator's). A cancel requested meanwhile wins over a retry.
    func settleFailed(
        entry: HookPlan.Entry, actionRun: ActionRunRecord, error: ActionError, options: FlowOptions?, cancelRequested: Bool
    ) async throws(EngineError) -> AttemptOutcome {
        // The flow's retry budget stays with the error, so a queued retry can say "retry k of n".
        let retries = (options?.retries ?? 0) > 0 ? options?.retries : nil
        let actionError = Self.errorJSON(error, retries: retries)
        try await stored { () async throws(StateStoreError) in
            _ = try await store.changeActionRunStatus(id: actionRun.id, to: .failed, errorJSON: actionError)
        }
        observer?.actionEnded(action: entry.name, status: "failed", error: error.description)
        if cancelRequested {
            return .finished(try await settleCancelled(action: entry.name, message: "cancelled (the action had failed: \(error.description))"))
        }
        let runError = Engine.json(["action": .string(entry.name), "type": .string(error.type), "message": .string(error.message)])
        guard let options, options.retries > 0, actionRun.attempts <= options.retries, error.type != "Cancelled" else {
            return .finished(try await stored { () async throws(StateStoreError) in
                try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: runError)
            })
        }
        let delay = options.delay(beforeRetry: actionRun.attempts)
        let due = delay > 0 ? Date().addingTimeInterval(delay) : nil
        // The worker hands its own run back to the queue in one transaction:
        // the run never shows `failed` between its attempts (no webhook or
        // metric sees an end), and a crash cannot lose the retry. The attempt
        // keeps its end (the error it would have ended with, the action's
        // with its traceback) in the same transaction.
        let failure = AttemptFailure(errorJSON: runError, actionErrorJSON: actionError)
        let queued = try await stored { () async throws(StateStoreError) in
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: due, abandonedOwner: owner, handingOn: failure)
        }
        observer?.retryScheduled(attempt: queued.attempt, delaySeconds: delay, reason: error.description)
        return .retryScheduled(queued, notBefore: due)
    }

    func settleCancelled(action: String?, message: String) async throws(EngineError) -> RunRecord {
        var error: [String: JSONValue] = ["type": "Cancelled", "message": .string(message)]
        error["action"] = action.map(JSONValue.string) ?? .null
        return try await stored { () async throws(StateStoreError) in
            try await store.changeRunStatus(id: run.id, to: .cancelled, errorJSON: Engine.json(.object(error)))
        }
    }

    static func errorJSON(_ error: ActionError, retries: Int? = nil) -> String {
        var members: [String: JSONValue] = ["type": .string(error.type), "message": .string(error.message)]
        if let retries { members["retries"] = .int(retries) }
        members["traceback"] = error.traceback.map(JSONValue.string) ?? .null
        if let details = error.details { members["details"] = details }
        return JSONValue.object(members).jsonText
    }
}
