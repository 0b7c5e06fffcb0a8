/// A lifecycle hook the platform triggers for a deployment (the guide's
/// "Creating a Driver": setup and upgrade; DESIGN.md "Backup, restore,
/// delete": the other three); the raw value is the word in specs, the CLI and JSON.
public enum Hook: String, Sendable, Hashable, Codable, CaseIterable {
    case setup, upgrade, backup, restore, delete

    /// Whether the hook installs or changes the app version (its run has a
    /// `target_version` and renders the Helm values).
    public var setsAppVersion: Bool { self == .setup || self == .upgrade }
}

/// When, within a hook, an action runs: all `pre`, then `core`, then `post`
/// (the guide's modes; raw values as in specs and JSON).
public enum ActionMode: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case pre, core, post

    public static func < (lhs: ActionMode, rhs: ActionMode) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}
