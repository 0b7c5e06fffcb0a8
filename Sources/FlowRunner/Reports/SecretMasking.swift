public import ActionHost
public import FlowModel
public import StateStore

/// Hiding secret values (``SecretParameters``) wherever the engine shows
/// what an action did: step arguments, results and errors, action and run
/// errors, live progress. What is stored for replay stays as it was; only
/// what is shown is masked.
public struct SecretMasking: Sendable, Hashable {
    /// The texts to hide, longest first (see ``SecretParameters/texts(in:config:)``).
    public var texts: [String]

    public init(texts: [String]) {
        self.texts = texts
    }

    /// The secret texts of a run: its secret parameters' values (from the
    /// run's frozen inputs) and its deployment's secret config values.
    public init(secrets: SecretParameters, inputsJSON: String?, configJSON: String?) {
        let inputs = JSONValue(storedText: inputsJSON)
        texts = secrets.texts(in: inputs?["parameters"] ?? .null, config: JSONValue(storedText: configJSON) ?? inputs?["config"] ?? .null)
    }

    public var isEmpty: Bool { texts.isEmpty }

    /// The secret parameters of `run`'s driver version, with its
    /// deployment's secret config keys, and the masking of their values.
    static func load(for run: RunRecord, from store: any StateStore) async throws(StateStoreError) -> (secrets: SecretParameters, masking: SecretMasking) {
        var secrets = try await SecretParameters.load(versionID: run.driverVersionID, from: store)
        let deployment = try await store.deployment(id: run.deploymentID)
        secrets.configKeys = Set(deployment?.secretConfigKeys ?? [])
        return (secrets, SecretMasking(secrets: secrets, inputsJSON: run.inputsJSON, configJSON: deployment?.configJSON))
    }

    /// `text` with every secret replaced by `***`.
    public func text(_ text: String) -> String {
        isEmpty ? text : SecretParameters.masking(text, texts)
    }

    /// Stored JSON text with every string value masked (parsed and written
    /// again, so a secret that looks like a number never breaks the JSON).
    /// Text without a secret in it is returned as it is without parsing; a
    /// backslash means an escape (a secret holding `"` or `\`, or written as
    /// `\uXXXX`) could hide one from that check, so such text is always parsed.
    public func json(_ stored: String?) -> String? {
        guard !isEmpty, let stored, texts.contains(where: stored.contains) || stored.contains("\\"),
              let value = JSONValue(storedText: stored) else { return stored }
        return value.masking(self).jsonText
    }

    /// A cluster's view (``ClusterBackend/snapshot()``'s JSON) masked but
    /// for its `jobs`: the Helm values applied and a release's status
    /// message hold whatever the template or Flux made of secret values. The
    /// jobs are what the cluster ran, as the action asked for them.
    public func cluster(_ view: JSONValue) -> JSONValue {
        guard !isEmpty, case .object(var members) = view else { return view }
        for (key, member) in members where key != "jobs" { members[key] = value(member) }
        return .object(members)
    }

    /// `value` with every string (at any depth) masked: rendered Helm values, say.
    public func value(_ value: JSONValue) -> JSONValue {
        isEmpty ? value : value.masking(self)
    }

    /// An action's failure with its message, traceback and details masked.
    public func error(_ error: ActionError) -> ActionError {
        guard !isEmpty else { return error }
        var masked = error
        masked.message = text(error.message)
        masked.traceback = error.traceback.map(text)
        masked.details = error.details?.masking(self)
        return masked
    }

    /// A step as shown: arguments, result, error and divergence masked.
    public func step(_ step: StepRecord) -> StepRecord {
        guard !isEmpty else { return step }
        var shown = step
        shown.argsJSON = json(step.argsJSON) ?? step.argsJSON
        shown.resultJSON = json(step.resultJSON)
        shown.errorJSON = json(step.errorJSON)
        shown.divergenceJSON = json(step.divergenceJSON)
        return shown
    }
}

extension JSONValue {
    /// This value with every string (at any depth) masked.
    func masking(_ masking: SecretMasking) -> JSONValue {
        switch self {
        case .string(let text): .string(masking.text(text))
        case .array(let values): .array(values.map { $0.masking(masking) })
        case .object(let members): .object(members.mapValues { $0.masking(masking) })
        default: self
        }
    }
}

/// A ``RunObserver`` that shows secrets as `***` before passing events on.
struct MaskingRunObserver: RunObserver {
    let wrapped: any RunObserver
    let masking: SecretMasking

    func actionStarted(action: String, mode: ActionMode, attempt: Int) {
        wrapped.actionStarted(action: action, mode: mode, attempt: attempt)
    }

    func actionSkipped(action: String, mode: ActionMode) {
        wrapped.actionSkipped(action: action, mode: mode)
    }

    func stepStarted(action: String, seq: Int, kind: StepKind, name: String, argsJSON: String) {
        wrapped.stepStarted(action: action, seq: seq, kind: kind, name: name, argsJSON: masking.json(argsJSON) ?? argsJSON)
    }

    func stepEnded(action: String, seq: Int, kind: StepKind, name: String, status: String, durationMilliseconds: Double, error: String?) {
        wrapped.stepEnded(action: action, seq: seq, kind: kind, name: name, status: status, durationMilliseconds: durationMilliseconds,
                          error: error.map(masking.text))
    }

    func actionEnded(action: String, status: String, error: String?) {
        wrapped.actionEnded(action: action, status: status, error: error.map(masking.text))
    }

    func logged(action: String?, level: String, logger: String, message: String) {
        wrapped.logged(action: action, level: level, logger: logger, message: masking.text(message))
    }

    func retryScheduled(attempt: Int, delaySeconds: Double, reason: String) {
        wrapped.retryScheduled(attempt: attempt, delaySeconds: delaySeconds, reason: masking.text(reason))
    }

    func waiting(for blocker: Int64, reason: String) {
        wrapped.waiting(for: blocker, reason: reason)
    }
}
