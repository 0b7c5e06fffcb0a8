import ActionHost
import DriverSpec
import FlowModel
import Foundation
import Primitives
import StateStore
import Synchronization

/// Serves one action attempt's calls: checkpoints each primitive and task
/// call as a step through the ``StepJournal``, executes primitives on the
/// deployment's cluster, and stores log lines.
struct ActionCallRouter: ActionCallHandler {
    let journal: StepJournal
    let logs: LogSink
    let observer: (any RunObserver)?
    let action: String
    let runID: RecordID
    let attempt: Int
    let deployment: DeploymentRecord
    let spec: DriverSpecification
    let cluster: any ClusterBackend
    let defaultTimeout: Duration
    let flowOptions: FlowOptionsBox
    /// Secret values, masked in log lines, step arguments and errors before
    /// they are stored or shown (results stay as they are: they are replayed).
    let masking: SecretMasking
    /// The Helm values install and upgrade apply (nil: none).
    let values: (any HelmValuesSource)?
    /// The worker's lease on the run: a call made once it may have run out
    /// is refused before anything is recorded (nil: not fenced).
    let lease: LeaseFence?
    /// Tells cancelled primitives whether they were cut off (host died) or stopped on purpose.
    let interruption = CallInterruption()
    /// The jobs whose output was logged while they ran (not logged again from their result).
    let streamedJobs = StreamedJobs()

    func callsCutOff() { interruption.markCutOff() }

    func handle(_ request: ActionCallRequest) async -> ActionReply {
        switch request.call {
        case .primitive(let name, let reference, let arguments):
            return await primitive(seq: request.sequence, name: name, reference: reference, arguments: arguments, answeredByHost: request.answeredByHost)
        case .taskBegin(let name, let arguments):
            return await taskBegin(seq: request.sequence, name: name, arguments: arguments, answeredByHost: request.answeredByHost)
        case .taskEnd(let step, let result, let attempts):
            return await taskEnd(step: step, result: result, attempts: attempts)
        }
    }

    func log(_ line: ActionLogLine) {
        let message = masking.text(line.message)
        logs.append(level: line.level, logger: line.logger, message: message, time: line.time)
    }

    func flowOptionsRead(_ options: FlowOptions) {
        flowOptions.set(options)
    }

    // MARK: Primitives

    func primitive(seq: Int, name: String, reference: String?, arguments: JSONValue, answeredByHost: Bool = false) async -> ActionReply {
        var stepName = name
        var stepArguments = arguments
        var problem: PrimitiveError?
        do {
            (stepName, stepArguments) = try PrimitiveCatalogue.normalize(name: name, arguments: stepArguments)
        } catch {
            problem = error
        }
        if let reference, reference != deployment.name, reference != String(deployment.id) {
            problem = PrimitiveError.refused(
                "an action may only act on its own deployment: the call names \"\(reference)\", the run's deployment is \"\(deployment.name)\"")
        }
        return await step(seq: seq, kind: .primitive, name: stepName, arguments: stepArguments, problem: problem, answeredByHost: answeredByHost) { job in
            await execute(name: stepName, arguments: stepArguments, job: job)
        }
    }

    /// A built-in primitive of the engine's own core (`install_components`),
    /// recorded as a `builtin` step through the same path as an action's calls.
    func builtIn(seq: Int, name: String, arguments: JSONValue) async -> ActionReply {
        return await step(seq: seq, kind: .builtin, name: name, arguments: arguments, problem: nil) { job async in
            do throws(PrimitiveError) {
                return .success(try await PrimitiveCatalogue.executeBuiltIn(name: name, arguments: arguments, in: environment(job: job)))
            } catch {
                return .failure(error)
            }
        }
    }

    /// Checkpoints one call: replays its recorded result, or records it as
    /// running, executes it and records how it ended (the answer does not
    /// wait for that write: ``StepJournal/finishBehind(stepID:seq:name:succeeded:resultJSON:errorJSON:)``). A call the host
    /// answered itself (`answeredByHost`) that the journal would run is not
    /// executed: its step fails (the runner then fails the action).
    func step(
        seq: Int, kind: StepKind, name: String, arguments: JSONValue, problem: PrimitiveError?, answeredByHost: Bool = false,
        execute: (StepJournal.JobOrigin) async -> Result<JSONValue, PrimitiveError>
    ) async -> ActionReply {
        let started = ContinuousClock.now
        if let refused = await leaseRefusal(seq: seq) { return refused }
        let argsBytes = arguments.jsonBytes
        let argsJSON = masking.json(String(decoding: argsBytes, as: UTF8.self)) ?? ""
        let digest = ArgumentDigest.of(jsonBytes: argsBytes)
        let decision: StepJournal.Decision
        do {
            decision = try await journal.decide(seq: seq, kind: kind, name: name, argsJSON: argsJSON, digest: digest)
        } catch {
            return .failure(ActionError(type: "EngineError", message: "cannot record the step: \(error)"))
        }
        switch decision {
        case .replay(let resultJSON, let seq):
            observer?.stepEnded(action: action, seq: seq, kind: kind, name: name, status: "replayed", durationMilliseconds: milliseconds(since: started), error: nil)
            return .value(JSONValue(storedText: resultJSON) ?? .null)
        case .execute(let stepID, let adopting, let seq):
            observer?.stepStarted(action: action, seq: seq, kind: kind, name: name, argsJSON: argsJSON)
            let outcome: Result<JSONValue, PrimitiveError>
            if answeredByHost {
                outcome = .failure(.refused(Self.notReplayed(seq: seq, name: name)))
            } else if let problem {
                outcome = .failure(problem)
            } else {
                // The job is named after the step's recorded position (or the one it adopts).
                outcome = await execute(adopting ?? StepJournal.JobOrigin(seq: seq, attempt: attempt))
            }
            switch outcome {
            case .success(let value):
                let result = value
                await journal.finishBehind(stepID: stepID, seq: seq, name: name, succeeded: true, resultJSON: result.jsonText, errorJSON: nil)
                observer?.stepEnded(action: action, seq: seq, kind: kind, name: name, status: "succeeded", durationMilliseconds: milliseconds(since: started), error: nil)
                return .value(result)
            case .failure(let error) where error.code == .interrupted || (interruption.isCutOff && Task.isCancelled):
                // Cut off with its host: the step stays running, for the next attempt to adopt.
                observer?.stepEnded(action: action, seq: seq, kind: kind, name: name, status: "interrupted", durationMilliseconds: milliseconds(since: started), error: error.message)
                return .failure(ActionError(type: "Interrupted", message: error.message))
            case .failure(let error):
                let details = error.details
                var errorJSON: [String: JSONValue] = ["type": .string(error.type), "message": .string(error.message)]
                if let details { errorJSON["details"] = details }
                await journal.finishBehind(stepID: stepID, seq: seq, name: name, succeeded: false, resultJSON: nil,
                                           errorJSON: JSONValue.object(errorJSON).masking(masking).jsonText)
                observer?.stepEnded(action: action, seq: seq, kind: kind, name: name, status: "failed", durationMilliseconds: milliseconds(since: started), error: "\(error.type): \(error.message)")
                return .failure(ActionError(type: error.type, message: error.message, details: details))
            }
        }
    }

    /// Runs the primitive. The job of a step that was running when its
    /// worker died is adopted (`adopting`); one that finished (and failed)
    /// is replaced by a new job, named after this step.
    func execute(name: String, arguments: JSONValue, job: StepJournal.JobOrigin) async -> Result<JSONValue, PrimitiveError> {
        let result: Result<JSONValue, PrimitiveError>
        do {
            result = .success(try await PrimitiveCatalogue.execute(name: name, arguments: arguments, in: environment(job: job)))
        } catch {
            result = .failure(error)
        }
        if name == "execute_commands" { logJobOutput(result) }
        return result
    }

    /// A job's output becomes log lines of the run (`runs logs`, `--follow`),
    /// one per output line, logged by `job/<name>`.
    func logJobOutput(_ result: Result<JSONValue, PrimitiveError>) {
        let value: JSONValue? = switch result {
        case .success(let value): value
        case .failure(let error): error.details
        }
        guard let value, let job = value["job"]?.stringValue, let commands = value["results"]?.arrayValue,
              !streamedJobs.names.withLock({ $0.contains(job) }) else { return }
        let now = Date().timeIntervalSince1970
        for command in commands {
            guard let output = command["output"]?.stringValue, !output.isEmpty else { continue }
            for line in output.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                logs.append(level: "info", logger: "job/\(job)", message: masking.text(String(line)), time: now)
            }
        }
    }

    func environment(job: StepJournal.JobOrigin) -> PrimitiveEnvironment {
        var environment = PrimitiveEnvironment(
            deployment: deployment.name, spec: spec, cluster: cluster,
            jobName: JobNames.name(run: runID, action: action, seq: job.seq, attempt: job.attempt), defaultTimeout: defaultTimeout,
            interruption: interruption, values: values
        )
        environment.jobLabels = ["flowrunner.io/run": String(runID)]
        let logs = logs, masking = masking, name = environment.jobName, streamed = streamedJobs
        environment.jobOutput = { @Sendable line in
            streamed.names.withLock { _ = $0.insert(name) }
            logs.append(level: "info", logger: "job/\(name)", message: masking.text(line), time: Date().timeIntervalSince1970)
        }
        return environment
    }

    // MARK: Tasks

    func taskBegin(seq: Int, name: String, arguments: JSONValue, answeredByHost: Bool = false) async -> ActionReply {
        if let refused = await leaseRefusal(seq: seq) { return refused }
        let argsBytes = arguments.jsonBytes
        let argsJSON = masking.json(String(decoding: argsBytes, as: UTF8.self)) ?? ""
        let decision: StepJournal.Decision
        do {
            decision = try await journal.decide(seq: seq, kind: .task, name: name, argsJSON: argsJSON, digest: ArgumentDigest.of(jsonBytes: argsBytes))
        } catch {
            return .failure(ActionError(type: "EngineError", message: "cannot record the step: \(error)"))
        }
        switch decision {
        case .replay(let resultJSON, let seq):
            observer?.stepEnded(action: action, seq: seq, kind: .task, name: name, status: "replayed", durationMilliseconds: 0, error: nil)
            return .replayTask(JSONValue(storedText: resultJSON) ?? .null)
        case .execute(let stepID, _, let seq):
            observer?.stepStarted(action: action, seq: seq, kind: .task, name: name, argsJSON: argsJSON)
            if answeredByHost {
                // Left running: the end of the action records it failed (``StepJournal/closeUnfinished(reason:)``).
                return .failure(ActionError(type: "EngineError", message: Self.notReplayed(seq: seq, name: name)))
            }
            return .runTask(step: .array([.int(Int(stepID)), .int(seq), .string(name)]))
        }
    }

    func taskEnd(step: JSONValue, result: Result<JSONValue, ActionError>, attempts: Int) async -> ActionReply {
        guard let parts = step.arrayValue, parts.count == 3, let stepID = parts[0].intValue,
              let seq = parts[1].intValue, let name = parts[2].stringValue else {
            return .failure(ActionError(type: "ProtocolError", message: "task end for an unknown step \(step.jsonText)"))
        }
        if let refused = await leaseRefusal(seq: nil) { return refused }
        let succeeded: Bool, value: JSONValue?, errorJSON: JSONValue?
        switch result {
        case .success(let result):
            (succeeded, value, errorJSON) = (true, result, nil)
        case .failure(let error):
            (succeeded, value, errorJSON) = (false, nil, ["type": .string(error.type), "message": .string(masking.text(error.message)), "attempts": .int(attempts)])
        }
        let duration: Double
        do {
            guard let ran = try await journal.finishTask(stepID: RecordID(stepID), succeeded: succeeded, result: value, errorJSON: errorJSON?.jsonText) else {
                return .failure(ActionError(type: "ProtocolError", message: "task end for step \(stepID), which this action did not start"))
            }
            duration = ran
        } catch {
            return .failure(ActionError(type: "EngineError", message: "cannot record the end of step \(stepID): \(error)"))
        }
        let detail: String? = if case .failure(let error) = result { "\(error.type): \(error.message)" } else { attempts > 1 ? "succeeded after \(attempts) attempts" : nil }
        observer?.stepEnded(action: action, seq: Int(seq), kind: .task, name: name, status: succeeded ? "succeeded" : "failed", durationMilliseconds: duration, error: detail)
        return .value(.null)
    }

    // MARK: Helpers

    /// The answer to a call made once the worker's lease may have run out
    /// and the store did not renew it (type `LeaseLost`; the fence then stops
    /// the attempt); nil while it holds. A refused call still takes its turn
    /// (`seq`, for calls that have one), so later calls are not left waiting for it.
    func leaseRefusal(seq: Int?) async -> ActionReply? {
        guard let lease, await !lease.holdsOrRenews(runID: runID) else { return nil }
        if let seq { await journal.skip(seq: seq) }
        return .failure(ActionError(type: "LeaseLost", message: lease.lossReason ?? "the lease on run \(runID) was lost"))
    }

    /// Why a call the host answered from its record was not run by the engine either.
    static func notReplayed(seq: Int, name: String) -> String {
        "call \(seq) (\(name)) was answered by the action host from its record, but the engine's "
            + "journal would run it; it was not run"
    }

    func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}

/// The flow options the host reported, shared between the router and the executor.
final class FlowOptionsBox: Sendable {
    private let value = Mutex<FlowOptions?>(nil)

    func set(_ options: FlowOptions) { value.withLock { $0 = options } }
    func get() -> FlowOptions? { value.withLock { $0 } }
}

/// The names of the jobs whose output a backend handed over while they ran.
final class StreamedJobs: Sendable {
    let names = Mutex<Set<String>>([])
}

/// Deterministic, DNS-1123-safe job names: `fr-<run>-<action>-<seq>-a<attempt>`.
enum JobNames {
    /// `fr-RUN-SLUG-SEQ-aATTEMPT`, at most 63 characters (a Kubernetes
    /// label value). SLUG is the action name lower-cased, each run of
    /// characters other than ASCII letters and digits one `-`, no `-` at
    /// either end, then cut to 30 characters.
    static func name(run: RecordID, action: String, seq: Int, attempt: Int) -> String {
        var slug = ""
        var pendingDash = false
        for character in action.lowercased() {
            if character.isASCII && (character.isLetter || character.isNumber) {
                if pendingDash && !slug.isEmpty { slug.append("-") }
                pendingDash = false
                slug.append(character)
            } else {
                pendingDash = true
            }
        }
        slug = String(slug.prefix(30))
        let name = "fr-\(run)-\(slug.isEmpty ? "action" : slug)-\(seq)-a\(attempt)"
        return String(name.prefix(63))
    }
}


