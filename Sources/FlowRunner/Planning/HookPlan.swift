public import DriverSpec
public import FlowModel

/// The actions of one hook in execution order: `pre`, then `core`, then
/// `post`, each in declaration order. Without a declared `core` action the
/// built-in core runs in its place.
public struct HookPlan: Sendable {
    /// One planned action.
    public struct Entry: Sendable, Hashable {
        /// The action's name (`builtin-install` / `builtin-upgrade` for the built-in core).
        public var name: String
        /// Its mode.
        public var mode: ActionMode
        /// The declared action, or nil for the built-in core.
        public var action: ActionSpec?
    }

    /// Name of the built-in core action of `hook`.
    static func builtInName(_ hook: Hook) -> String {
        hook == .setup ? "builtin-install" : "builtin-upgrade"
    }

    /// The actions in execution order.
    public var entries: [Entry]

    /// The plan of `hook` for `spec`.
    public init(spec: DriverSpecification, hook: Hook) {
        var entries: [Entry] = []
        for mode in ActionMode.allCases {
            let declared = spec.actions(for: hook, mode: mode)
            if mode == .core, declared.isEmpty {
                entries.append(Entry(name: Self.builtInName(hook), mode: .core, action: nil))
            }
            entries += declared.map { Entry(name: $0.name, mode: mode, action: $0) }
        }
        self.entries = entries
    }
}
