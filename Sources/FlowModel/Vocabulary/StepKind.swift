/// What a recorded step is (DESIGN.md "Steps"; the raw value is the `kind`
/// of `runs show --json`): a primitive called by an action, a Prefect-style
/// task, or the engine's built-in core when a hook has no core action.
public enum StepKind: String, Sendable, Hashable, Codable, CaseIterable {
    case primitive
    case task
    case builtin
}
