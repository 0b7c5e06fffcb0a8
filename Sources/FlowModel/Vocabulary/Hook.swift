/// A lifecycle hook the platform triggers for a deployment (the guide's
/// "Creating a Driver"); the raw value is the word in specs, the CLI and JSON.
public enum Hook: String, Sendable, Hashable, Codable, CaseIterable {
    case setup, upgrade
}

/// When, within a hook, an action runs: all `pre`, then `core`, then `post`
/// (the guide's modes; raw values as in specs and JSON).
public enum ActionMode: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case pre, core, post

    public static func < (lhs: ActionMode, rhs: ActionMode) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}
