public import DriverSpec
public import FlowModel
import Primitives

/// The actions of one hook in execution order: `pre`, then `core`, then
/// `post`, each in declaration order, with the engine's built-in actions
/// (named `builtin-...`, `action` nil) in the core:
///
/// - setup / upgrade: `builtin-install` / `builtin-upgrade` when the driver
///   declares no core action of the hook.
/// - backup: `builtin-backup` (every component with a built-in strategy)
///   before the declared core action (`kind: action` components).
/// - restore: `builtin-restore` (stops the components without a backup,
///   then those restored from volume snapshots; restores each built-in
///   component; starts the snapshot ones again), the declared core action,
///   then `builtin-start` (the components without a backup).
/// - delete: the declared core action, then `builtin-uninstall` (the
///   release and what the deployment made), and `builtin-purge-backups`
///   when the run's inputs say `purge_backups`.
public struct HookPlan: Sendable {
    /// One planned action.
    public struct Entry: Sendable, Hashable {
        /// The action's name (`builtin-...` for the engine's own).
        public var name: String
        /// Its mode.
        public var mode: ActionMode
        /// The declared action, or nil for a built-in one.
        public var action: ActionSpec?
    }

    /// The actions in execution order.
    public var entries: [Entry]

    /// The plan of `hook` for `spec`; `inputs` are the run's (`purge_backups` of a delete).
    public init(spec: DriverSpecification, hook: Hook, inputs: JSONValue = .null) {
        let declaredCore = spec.actions(for: hook, mode: .core)
        var core: [Entry] = declaredCore.map { Entry(name: $0.name, mode: .core, action: $0) }
        func builtIn(_ name: String) -> Entry { Entry(name: name, mode: .core, action: nil) }
        let builtInBackups = spec.components.contains { BackupStrategy(of: $0)?.isBuiltIn == true }
        switch hook {
        case .setup where declaredCore.isEmpty: core = [builtIn("builtin-install")]
        case .upgrade where declaredCore.isEmpty: core = [builtIn("builtin-upgrade")]
        case .setup, .upgrade: break
        case .backup: core = (builtInBackups ? [builtIn("builtin-backup")] : []) + core
        case .restore: core = [builtIn("builtin-restore")] + core + [builtIn("builtin-start")]
        case .delete:
            core.append(builtIn("builtin-uninstall"))
            if inputs["purge_backups"]?.boolValue == true { core.append(builtIn("builtin-purge-backups")) }
        }
        entries = spec.actions(for: hook, mode: .pre).map { Entry(name: $0.name, mode: .pre, action: $0) }
            + core + spec.actions(for: hook, mode: .post).map { Entry(name: $0.name, mode: .post, action: $0) }
    }
}
