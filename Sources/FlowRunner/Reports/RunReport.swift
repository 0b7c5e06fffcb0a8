import ActionHost
public import FlowModel
public import Foundation
public import StateStore

/// Everything stored about a run, in the shape of `runs show --output json`
/// and `GET /v1/runs/{id}` (DESIGN.md):
/// `{"id", "deployment", "hook", "status", "attempt", "inputs", "driver":
/// {"name", "version", "digest"}, "created_at", "started_at", "ended_at",
/// "error", "waiting_reason", "actions": [{"name", "mode", "status", "attempts", "isolation", "error",
/// "steps": [{"seq", "attempt", "kind", "name", "args", "status", "replayed",
/// "result", "error", "duration_ms", "started_at", "ended_at", "divergence",
/// "waiting_reason"}]}], "attempts": [{"attempt", "ended_by", "status", "error",
/// "action_error", "ended_at"}], "webhook_deliveries": [...]}` (`waiting_reason`:
/// ``WaitingReason``, null once finished; `attempts`: how each ended
/// attempt ended (`ended_by` `end`, `retry` or `recovery`), its error
/// (with the failing action's traceback) kept when a retry cleared the run's;
/// `webhook_deliveries`: one ``RunEndEvent/listing(_:)`` per completion
/// webhook told of each end).
public struct RunReport: Sendable {
    /// The run.
    public var run: RunRecord
    /// Its driver version, when stored.
    public var driver: DriverVersionRecord?
    /// Its actions with their steps, in execution order.
    public var actions: [(action: ActionRunRecord, steps: [StepRecord])]
    /// The parameters its driver declares secret, shown as `***`.
    public var secrets = SecretParameters()
    /// The masking of those secrets' values (and the deployment's secret config values).
    public var masking = SecretMasking(texts: [])
    /// Why the run (and its running steps) has not finished; nothing when it has.
    public var waiting = WaitingReason(run: nil)
    /// The completion webhooks told (or being told) of its ends, oldest first.
    public var webhookDeliveries: [WebhookDeliveryRecord] = []
    /// How each of its attempts that ended ended, in attempt order, secret values masked in their errors.
    public var attempts: [AttemptEnd] = []

    /// Reads the report of `runID` from `store`; nil when there is no such run.
    public static func load(runID: RecordID, from store: any StateStore) async throws(StateStoreError) -> RunReport? {
        guard let run = try await store.run(id: runID) else { return nil }
        let driver = try await store.driverVersion(id: run.driverVersionID)
        var actions: [(ActionRunRecord, [StepRecord])] = []
        for action in try await store.actionRuns(runID: runID) {
            actions.append((action, try await store.steps(actionRunID: action.id)))
        }
        // What the action did is shown with secret values masked wherever they appear.
        let (secrets, masking) = try await SecretMasking.load(for: run, from: store)
        var shown = run
        shown.errorJSON = masking.json(run.errorJSON)
        let maskedActions = actions.map { action, steps in
            var action = action
            action.errorJSON = masking.json(action.errorJSON)
            return (action, steps.map(masking.step))
        }
        let waiting = try await WaitingReason.load(run, store: store, now: try await store.currentTime())
        let deliveries = try await store.webhookDeliveries(runID: runID)
        let attempts = try await store.attemptEnds(ofRun: runID).map { end in
            var end = end
            end.errorJSON = masking.json(Self.withTraceback(end.errorJSON, from: end.actionErrorJSON))
            end.actionErrorJSON = masking.json(end.actionErrorJSON)
            return end
        }
        return RunReport(run: shown, driver: driver, actions: maskedActions, secrets: secrets, masking: masking, waiting: waiting,
                         webhookDeliveries: deliveries, attempts: attempts)
    }

    /// The run's inputs, secret parameters shown as `***`.
    public var inputs: JSONValue {
        guard case .object(var members)? = JSONValue(storedText: run.inputsJSON) else { return .object([:]) }
        if let parameters = members["parameters"] { members["parameters"] = secrets.masked(parameters: parameters) }
        if let config = members["config"] { members["config"] = secrets.masked(config: config) }
        return .object(members)
    }

    /// The report as JSON.
    public var json: JSONValue {
        .object([
            "id": .int(Int(run.id)),
            "deployment": .string(run.deployment),
            "hook": .string(run.hook.rawValue),
            "status": .string(run.status.rawValue),
            "attempt": .int(run.attempt),
            "inputs": inputs,
            "driver": driver.map { .object(["name": .string($0.driver), "version": .int($0.number), "digest": .string($0.digest)]) } ?? .null,
            "created_at": Self.time(run.createdAt),
            "started_at": Self.time(run.startedAt),
            "ended_at": Self.time(run.endedAt),
            "error": JSONValue(storedText: run.errorJSON) ?? .null,
            "waiting_reason": waiting.run.map(JSONValue.string) ?? .null,
            "actions": .array(actions.map { action, steps in
                .object([
                    "name": .string(action.name),
                    "mode": .string(action.mode.rawValue),
                    "status": .string(action.status.rawValue),
                    "attempts": .int(action.attempts),
                    "isolation": action.isolation.map(JSONValue.string) ?? .null,
                    "error": JSONValue(storedText: action.errorJSON) ?? .null,
                    "steps": .array(steps.map { Self.step($0, waitingReason: waiting.step($0, of: run)) }),
                ])
            }),
            "attempts": .array(attempts.map(Self.attempt)),
            "webhook_deliveries": .array(webhookDeliveries.map(RunEndEvent.listing)),
        ])
    }

    /// One attempt's end: `{"attempt", "ended_by", "status", "error",
    /// "action_error", "ended_at"}`.
    static func attempt(_ end: AttemptEnd) -> JSONValue {
        .object([
            "attempt": .int(end.attempt),
            "ended_by": .string(end.endedBy.rawValue),
            "status": .string(end.status.rawValue),
            "error": JSONValue(storedText: end.errorJSON) ?? .null,
            "action_error": JSONValue(storedText: end.actionErrorJSON) ?? .null,
            "ended_at": time(end.endedAt),
        ])
    }

    /// An attempt's error with the failing action's traceback added when it
    /// has none of its own (the run keeps the action's name and message, the
    /// action its traceback).
    static func withTraceback(_ errorJSON: String?, from actionErrorJSON: String?) -> String? {
        guard case .object(var members)? = JSONValue(storedText: errorJSON),
              members["traceback"] == nil || members["traceback"] == .null,
              let traceback = JSONValue(storedText: actionErrorJSON)?["traceback"], case .string = traceback else { return errorJSON }
        members["traceback"] = traceback
        return JSONValue.object(members).jsonText
    }

    static func step(_ step: StepRecord, waitingReason: String?) -> JSONValue {
        .object([
            "seq": .int(step.seq),
            "attempt": .int(step.attempt),
            "kind": .string(step.kind.rawValue),
            "name": .string(step.name),
            "args": JSONValue(storedText: step.argsJSON) ?? .object([:]),
            "status": .string(step.status.rawValue),
            "replayed": .bool(step.replayed),
            "result": shownResult(step),
            "error": JSONValue(storedText: step.errorJSON) ?? .null,
            "duration_ms": step.durationMilliseconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
            "started_at": time(step.startedAt),
            "ended_at": time(step.endedAt),
            "divergence": JSONValue(storedText: step.divergenceJSON) ?? .null,
            "waiting_reason": waitingReason.map(JSONValue.string) ?? .null,
        ])
    }

    /// A step's result as shown: a task's pickled value (kept for replay,
    /// `_flowrunner/results.py`) is left out, the JSON view and repr stay.
    public static func shownResult(_ step: StepRecord) -> JSONValue {
        guard let result = JSONValue(storedText: step.resultJSON) else { return .null }
        guard step.kind == .task, case .object(var members) = result, members["pickle"] != nil else { return result }
        members.removeValue(forKey: "pickle")
        return .object(members)
    }

    /// RFC 3339 UTC with milliseconds, or null.
    public static func time(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(TimeText.rfc3339(date))
    }
}

extension JSONValue {
    /// Indented JSON for people (keys sorted, two spaces).
    public var prettyText: String {
        var output = ""
        writePretty(into: &output, indent: "")
        return output
    }

    private func writePretty(into output: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .array(let values) where !values.isEmpty:
            output += "[\n"
            for (index, value) in values.enumerated() {
                output += inner
                value.writePretty(into: &output, indent: inner)
                output += index == values.count - 1 ? "\n" : ",\n"
            }
            output += indent + "]"
        case .object(let members) where !members.isEmpty:
            output += "{\n"
            let keys = members.keys.sorted()
            for (index, key) in keys.enumerated() {
                output += inner + JSONValue.string(key).jsonText + ": "
                members[key]?.writePretty(into: &output, indent: inner)
                output += index == keys.count - 1 ? "\n" : ",\n"
            }
            output += indent + "}"
        default:
            output += jsonText
        }
    }
}
