public import FlowModel
public import StateStore

/// What a retry of a run would do, without doing it (`POST
/// /v1/runs/{id}/retry` with `"plan_only": true`): per action of the run,
/// each recorded step (the latest record of each step number) and whether
/// the next attempt would replay it (its recorded result is returned
/// without running it again), adopt it (it was cut off while running: its
/// job is looked for first) or run it.
///
/// With the default policy a step replays while the action calls it as
/// before; a retry on another driver version stops replaying at the first
/// call that differs, which only running the action can tell.
public struct RetryPlan: Sendable {
    /// One step of the plan.
    public struct Step: Sendable {
        /// The step's sequence number within its action (what `from_step` counts).
        public var seq: Int
        /// The step's kind and name (`primitive` `execute_commands`, `task` `backup`).
        public var kind: StepKind
        public var name: String
        /// Its recorded arguments (JSON text).
        public var argsJSON: String
        /// How its latest attempt ended.
        public var recorded: StepStatus
        /// `replay`, `adopt` or `run`.
        public var plan: String
    }

    /// The run to retry.
    public var run: RunRecord
    /// The policy planned for.
    public var replay: Engine.ReplayMode
    /// Per action, in execution order, its steps.
    public var actions: [(name: String, steps: [Step])]

    /// The plan of retrying `run` with `replay`, from its recorded steps in `store`.
    public static func load(run: RunRecord, replay: Engine.ReplayMode, store: any StateStore) async throws(StateStoreError) -> RetryPlan {
        var actions: [(String, [Step])] = []
        for action in try await store.actionRuns(runID: run.id) {
            var latest: [Int: StepRecord] = [:]
            for step in try await store.steps(actionRunID: action.id) where (latest[step.seq]?.attempt ?? 0) <= step.attempt {
                latest[step.seq] = step
            }
            let steps = latest.values.sorted { $0.seq < $1.seq }.map { step in
                Step(seq: step.seq, kind: step.kind, name: step.name, argsJSON: step.argsJSON, recorded: step.status,
                     plan: plan(for: step, replay: replay))
            }
            actions.append((action.name, steps))
        }
        return RetryPlan(run: run, replay: replay, actions: actions)
    }

    static func plan(for step: StepRecord, replay: Engine.ReplayMode) -> String {
        let finished = step.status == .succeeded || step.status == .replayed
        switch replay {
        case .restart:
            return "run"
        case .fromStep(let first) where step.seq >= first:
            return "run"
        case .fromStep, .matching:
            return finished ? "replay" : (step.status == .running ? "adopt" : "run")
        }
    }

    /// `{"run", "attempt", "replay": "matching"|"from_step N"|"restart",
    /// "actions": [{"name", "steps": [{"seq", "kind", "name", "args", "recorded", "plan"}]}]}`
    /// (`attempt`: the number the retry would get).
    public var json: JSONValue {
        let policy: String = switch replay {
        case .matching: "matching"
        case .fromStep(let step): "from_step \(step)"
        case .restart: "restart"
        }
        return [
            "run": .int(Int(run.id)), "attempt": .int(run.attempt + 1), "replay": .string(policy),
            "actions": .array(actions.map { action in
                [
                    "name": .string(action.name),
                    "steps": .array(action.steps.map { step in
                        [
                            "seq": .int(step.seq), "kind": .string(step.kind.rawValue), "name": .string(step.name),
                            "args": JSONValue(storedText: step.argsJSON) ?? .object([:]),
                            "recorded": .string(step.recorded.rawValue), "plan": .string(step.plan),
                        ]
                    }),
                ]
            }),
        ]
    }
}
