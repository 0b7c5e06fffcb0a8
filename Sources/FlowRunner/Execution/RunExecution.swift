import ActionHost
import DriverSpec
import Foundation
import Primitives
public import StateStore

extension Engine {
    /// How one attempt ended.
    enum AttemptEnd {
        case finished(RunRecord)
        /// An automatic retry was queued; claim again at `notBefore`.
        case retry(notBefore: Date)
    }

    /// Works the run to its end in this process and returns its final record.
    ///
    /// Claims the run (waiting while another run of the deployment works, or
    /// until a delayed retry is due), executes attempt after attempt while
    /// automatic retries are due, and stops early when the run is cancelled.
    /// A run already finished is returned as it is.
    public func execute(runID: RecordID, observer: (any RunObserver)? = nil) async throws(EngineError) -> RunRecord {
        while true {
            guard let run = try storeCall({ () throws(StateStoreError) in try store.run(id: runID) }) else {
                throw EngineError(.notFound, "no run \(runID)")
            }
            if run.status.isFinished || run.status == .cancelling { return run }
            if run.status == .running {
                let abandoned = run.leaseOwner.map(LeaseOwner.isDeadLocalProcess) ?? true
                if !abandoned, let expires = run.leaseExpiresAt, expires > Date() {
                    throw EngineError(.conflict, "run \(runID) is being worked by \(run.leaseOwner ?? "another worker")")
                }
                // Its worker died: the next attempt resumes it.
                _ = try storeCall { () throws(StateStoreError) in
                    try store.retryRun(id: runID, replayJSON: nil, abandonedOwner: abandoned ? run.leaseOwner : nil)
                }
                continue
            }
            let now = Date()
            if let due = run.notBefore, due > now {
                let wait = min(due.timeIntervalSince(now), Double(configuration.maximumRetryDelay.components.seconds))
                try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                if Task.isCancelled { return run }
                continue
            }
            let lease = Double(configuration.leaseDuration.components.seconds)
            guard let claimed = try storeCall({ () throws(StateStoreError) in
                try store.claimNextRun(owner: configuration.owner, leaseDuration: lease, runID: runID)
            }) else {
                // Another run of the same deployment is working: wait for it,
                // unless its worker is gone (nothing would ever finish it).
                if let blocker = try storeCall({ () throws(StateStoreError) in
                    try store.runs(matching: RunFilter(deployment: run.deployment, status: .running, limit: 5))
                        + store.runs(matching: RunFilter(deployment: run.deployment, status: .cancelling, limit: 5))
                }).first(where: { $0.id != runID && Self.isAbandoned($0) }) {
                    throw EngineError(.conflict, "run \(runID) waits for run \(blocker.id) of deployment \(run.deployment), whose worker "
                        + "(\(blocker.leaseOwner ?? "unknown")) is gone; resume it with `flowrunner runs retry \(blocker.id)` "
                        + "or stop it with `flowrunner runs cancel \(blocker.id)`")
                }
                try? await Task.sleep(for: configuration.pollInterval)
                if Task.isCancelled { return run }
                continue
            }
            let end: AttemptEnd
            do {
                end = try await runAttempt(claimed, observer: observer)
            } catch {
                // The engine itself failed mid-attempt: end the run rather than leave it running.
                if let current = try? store.run(id: runID), !current.status.isFinished {
                    _ = try? fail(current, action: nil, type: "EngineError", message: error.message)
                }
                throw error
            }
            switch end {
            case .finished(let record):
                return record
            case .retry:
                continue
            }
        }
    }

    /// True when a running run's worker is gone: a dead process of this
    /// machine, or a lease that expired.
    static func isAbandoned(_ run: RunRecord) -> Bool {
        if let owner = run.leaseOwner, LeaseOwner.isDeadLocalProcess(owner) { return true }
        return run.leaseExpiresAt.map { $0 < Date() } ?? true
    }

    /// One attempt of a claimed run.
    func runAttempt(_ run: RunRecord, observer: (any RunObserver)?) async throws(EngineError) -> AttemptEnd {
        let driver: (record: DriverVersionRecord, spec: DriverSpecification, snapshot: DriverSnapshot)
        let directory: String
        do {
            driver = try loadDriver(versionID: run.driverVersionID)
            if let override = configuration.driverDirectoryOverride {
                directory = override
            } else {
                directory = try driverDirectory(for: driver.snapshot)
            }
        } catch {
            return .finished(try fail(run, action: nil, type: "EngineError", message: error.message))
        }
        guard let deployment = try storeCall({ () throws(StateStoreError) in try store.deployment(id: run.deploymentID) }),
              let hook = Hook(rawValue: run.hook) else {
            return .finished(try fail(run, action: nil, type: "EngineError", message: "run \(run.id) names an unknown deployment or hook"))
        }
        let cluster = SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: deployment.name), fixture: configuration.fixture)
        let attempt = RunAttempt(
            engine: self, run: run, deployment: deployment, hook: hook, spec: driver.spec, driverDirectory: directory,
            cluster: cluster, observer: observer
        )
        let end = try await attempt.execute()
        try? await cluster.flush()
        return end
    }

    /// Ends a run as failed with an engine-side reason.
    func fail(_ run: RunRecord, action: String?, type: String, message: String) throws(EngineError) -> RunRecord {
        var error: [String: SpecValue] = ["type": .string(type), "message": .string(message)]
        error["action"] = action.map(SpecValue.string) ?? .null
        return try storeCall { () throws(StateStoreError) in
            try store.changeRunStatus(id: run.id, to: .failed, errorJSON: Engine.json(.object(error)))
        }
    }
}

/// One attempt of one run: plans the hook, skips actions that succeeded
/// before, runs the rest in order, and settles the run's status.
struct RunAttempt {
    let engine: Engine
    let run: RunRecord
    let deployment: DeploymentRecord
    let hook: Hook
    let spec: DriverSpecification
    let driverDirectory: String
    let cluster: SimulatedCluster
    let observer: (any RunObserver)?

    var store: StateStore { engine.store }

    func storeCall<T>(_ body: () throws(StateStoreError) -> T) throws(EngineError) -> T {
        try engine.storeCall(body)
    }

    enum ActionEnd {
        case succeeded
        case failed(ActionError, FlowOptions?)
        case cancelled(ActionError)
    }

    func execute() async throws(EngineError) -> Engine.AttemptEnd {
        let plan = HookPlan(spec: spec, hook: hook)
        let recorded = try storeCall { () throws(StateStoreError) in
            try store.planActionRuns(runID: run.id, actions: plan.entries.map { ($0.name, $0.mode.rawValue) })
        }
        let inputs = JSONValue(storedText: run.inputsJSON) ?? .object([:])
        for entry in plan.entries {
            guard let actionRun = recorded.first(where: { $0.name == entry.name }) else { continue }
            if actionRun.status == .succeeded {
                observer?.actionSkipped(action: entry.name, mode: entry.mode.rawValue)
                continue
            }
            if let current = try storeCall({ () throws(StateStoreError) in try store.run(id: run.id) }), current.status == .cancelling {
                return .finished(try settleCancelled(action: nil, message: "cancelled before action \(entry.name) started"))
            }
            let started = try storeCall { () throws(StateStoreError) in try store.changeActionRunStatus(id: actionRun.id, to: .running) }
            observer?.actionStarted(action: entry.name, mode: entry.mode.rawValue, attempt: started.attempts)
            let end = await runAction(entry, actionRun: started, inputs: inputs)
            // A worker that lost its lease (another one took the run over) writes nothing more.
            guard let current = try storeCall({ () throws(StateStoreError) in try store.run(id: run.id) }),
                  current.leaseOwner == engine.configuration.owner, current.attempt == run.attempt else {
                return .finished(try storeCall { () throws(StateStoreError) in try store.run(id: run.id) } ?? run)
            }
            switch end {
            case .succeeded:
                try storeCall { () throws(StateStoreError) in _ = try store.changeActionRunStatus(id: actionRun.id, to: .succeeded) }
                observer?.actionEnded(action: entry.name, status: "succeeded", error: nil)
            case .cancelled(let error):
                try storeCall { () throws(StateStoreError) in
                    _ = try store.changeActionRunStatus(id: actionRun.id, to: .cancelled, errorJSON: Self.errorJSON(error))
                }
                observer?.actionEnded(action: entry.name, status: "cancelled", error: error.description)
                return .finished(try settleCancelled(action: entry.name, message: error.message))
            case .failed(let error, let options):
                try storeCall { () throws(StateStoreError) in
                    _ = try store.changeActionRunStatus(id: actionRun.id, to: .failed, errorJSON: Self.errorJSON(error))
                }
                if current.status == .cancelling {
                    // A cancel was asked for while the action failed on its own: no automatic retry.
                    observer?.actionEnded(action: entry.name, status: "failed", error: error.description)
                    return .finished(try settleCancelled(action: entry.name, message: "cancelled (the action had failed: \(error.description))"))
                }
                observer?.actionEnded(action: entry.name, status: "failed", error: error.description)
                let runError = Engine.json(["action": .string(entry.name), "type": .string(error.type), "message": .string(error.message)])
                let failed = try storeCall { () throws(StateStoreError) in try store.changeRunStatus(id: run.id, to: .failed, errorJSON: runError) }
                // @flow(retries=N): the action gets N more attempts, through the same retry path as an operator's.
                if let options, options.retries > 0, started.attempts <= options.retries, error.type != "Cancelled" {
                    let delay = options.delay(beforeRetry: started.attempts)
                    let due = Date().addingTimeInterval(delay)
                    _ = try storeCall { () throws(StateStoreError) in try store.retryRun(id: run.id, replayJSON: nil, notBefore: delay > 0 ? due : nil) }
                    observer?.retryScheduled(attempt: failed.attempt + 1, delaySeconds: delay, reason: error.description)
                    return .retry(notBefore: due)
                }
                return .finished(failed)
            }
        }
        let targetVersion = inputs["target_version"]?.stringValue ?? deployment.appVersion
        try storeCall { () throws(StateStoreError) in
            try store.updateDeployment(id: deployment.id, appVersion: targetVersion, driverVersionID: run.driverVersionID)
        }
        let finished = try storeCall { () throws(StateStoreError) in try store.changeRunStatus(id: run.id, to: .succeeded) }
        return .finished(finished)
    }

    func settleCancelled(action: String?, message: String) throws(EngineError) -> RunRecord {
        var error: [String: SpecValue] = ["type": "Cancelled", "message": .string(message)]
        error["action"] = action.map(SpecValue.string) ?? .null
        return try storeCall { () throws(StateStoreError) in
            try store.changeRunStatus(id: run.id, to: .cancelled, errorJSON: Engine.json(.object(error)))
        }
    }

    static func errorJSON(_ error: ActionError) -> String {
        var members: [String: JSONValue] = ["type": .string(error.type), "message": .string(error.message)]
        members["traceback"] = error.traceback.map(JSONValue.string) ?? .null
        if let details = error.details { members["details"] = details }
        return JSONValue.object(members).jsonText
    }

    // MARK: One action

    func runAction(_ entry: HookPlan.Entry, actionRun: ActionRunRecord, inputs: JSONValue) async -> ActionEnd {
        let previousSteps = (try? store.steps(actionRunID: actionRun.id)) ?? []
        let journal = StepJournal(
            store: store, actionRunID: actionRun.id, attempt: run.attempt, previousSteps: previousSteps,
            policy: ReplayPolicy(storedJSON: run.replayJSON)
        )
        let logs = LogSink(store: store, runID: run.id, action: entry.name, attempt: run.attempt, observer: observer)
        defer { logs.close() }
        let options = FlowOptionsBox()
        let router = ActionCallRouter(
            journal: journal, logs: logs, observer: observer, action: entry.name, runID: run.id, attempt: run.attempt,
            deployment: deployment, spec: spec, cluster: cluster, faults: cluster,
            defaultTimeout: engine.configuration.actionTimeout ?? .seconds(600), flowOptions: options
        )
        let work: Task<ActionOutcome, Never>
        if let action = entry.action {
            let invocation = ActionInvocation(
                action: entry.name, driverDirectory: driverDirectory, file: action.location.file, function: action.location.function,
                arguments: [
                    "context": JSONValue(storedText: run.contextJSON) ?? .object([:]),
                    "deployment_id": .string(deployment.name),
                    "target_version": inputs["target_version"] ?? .null,
                    "current_version": inputs["current_version"] ?? .null,
                    "parameters": inputs["parameters"] ?? .object([:]),
                ],
                flowRun: [
                    "id": .string(String(run.id)), "name": .string("\(hook.rawValue)-\(deployment.name)-\(entry.name)"),
                    "parameters": inputs["parameters"] ?? .object([:]),
                ],
                timeout: engine.configuration.actionTimeout
            )
            let runner = engine.configuration.actionRunner
            work = Task { await runner.run(invocation, handler: router) }
        } else {
            work = Task { await BuiltInCore.run(hook: hook, spec: spec, cluster: cluster, inputs: inputs, router: router) }
        }
        let watch = Task { await watchRun(cancelling: work) }
        let outcome = await work.value
        watch.cancel()
        try? await journal.closeUnfinished(reason: outcome.error?.message ?? "the action ended before the step did")
        switch outcome.status {
        case .succeeded:
            return .succeeded
        case .cancelled:
            return .cancelled(outcome.error ?? ActionError(type: "Cancelled", message: "the action was cancelled"))
        case .failed, .timedOut:
            var error = outcome.error ?? ActionError(type: "Exception", message: "the action failed")
            if outcome.logBytesDropped > 0 {
                logs.append(level: "warning", logger: "flowrunner", message: "\(outcome.logBytesDropped) bytes of log output were dropped (cap reached)", time: Date().timeIntervalSince1970)
            }
            if error.type == "Timeout" { error.message += "; the action's process group was stopped" }
            return .failed(error, outcome.flowOptions ?? options.get())
        }
    }

    /// While an action works: renew the lease and watch for a cancel request
    /// (from this process or another); either ends the action's task.
    func watchRun(cancelling work: Task<ActionOutcome, Never>) async {
        let configuration = engine.configuration
        let lease = Double(configuration.leaseDuration.components.seconds)
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.pollInterval)
            if Task.isCancelled { return }
            if let current = try? store.run(id: run.id), current.status == .cancelling || current.status.isFinished {
                work.cancel()
                return
            }
            if ContinuousClock.now - lastRenewal > configuration.leaseDuration / 3 {
                lastRenewal = .now
                let renewed = (try? store.renewLease(runID: run.id, owner: configuration.owner, until: Date().addingTimeInterval(lease))) ?? true
                if !renewed {
                    work.cancel()
                    return
                }
            }
        }
    }
}

/// The core that runs when a driver declares no `core` action: `setup`
/// installs the components at the app version, `upgrade` calls
/// `upgrade_deployment_version(target_version)`. Its work is recorded as
/// steps like an action's.
enum BuiltInCore {
    static func run(hook: Hook, spec: DriverSpecification, cluster: SimulatedCluster, inputs: JSONValue, router: ActionCallRouter) async -> ActionOutcome {
        let target = inputs["target_version"] ?? .null
        let reply: ActionReply
        switch hook {
        case .setup:
            reply = await install(spec: spec, cluster: cluster, version: target.stringValue ?? "", router: router)
        case .upgrade:
            reply = await router.handle(ActionCallRequest(sequence: 1, call: .primitive(
                name: "upgrade_deployment_version", deployment: nil, arguments: ["target_version": target]
            )))
        }
        switch reply {
        case .failure(let error):
            return ActionOutcome(status: .failed, error: error, logBytesDropped: 0)
        default:
            return ActionOutcome(status: .succeeded, value: .null, logBytesDropped: 0)
        }
    }

    static func install(spec: DriverSpecification, cluster: SimulatedCluster, version: String, router: ActionCallRouter) async -> ActionReply {
        let arguments: JSONValue = ["version": .string(version), "components": .array(spec.components.map { .string($0.name) })]
        let decision: StepJournal.Decision
        do {
            decision = try await router.journal.decide(seq: 1, kind: "builtin", name: "install_components", argsJSON: arguments.jsonText, digest: ArgumentDigest.of(arguments))
        } catch {
            return .failure(ActionError(type: "EngineError", message: "cannot record the step: \(error)"))
        }
        guard case .execute(let stepID, _) = decision else { return .value(.null) }
        let started = ContinuousClock.now
        router.observer?.stepStarted(action: router.action, seq: 1, kind: "builtin", name: "install_components", argsJSON: arguments.jsonText)
        do {
            try await cluster.install(spec: spec, version: version)
            try await cluster.waitForRollout(timeout: router.defaultTimeout)
            let result: JSONValue = ["installed": arguments["components"] ?? .array([]), "version": .string(version)]
            await router.finish(stepID, succeeded: true, result: result, error: nil)
            router.observer?.stepEnded(action: router.action, seq: 1, kind: "builtin", name: "install_components", status: "succeeded", durationMilliseconds: router.milliseconds(since: started), error: nil)
            return .value(result)
        } catch {
            await router.finish(stepID, succeeded: false, result: nil, error: ["type": "PrimitiveError", "message": .string(error.message)])
            router.observer?.stepEnded(action: router.action, seq: 1, kind: "builtin", name: "install_components", status: "failed", durationMilliseconds: router.milliseconds(since: started), error: error.message)
            return .failure(ActionError(type: "PrimitiveError", message: error.message))
        }
    }
}
