import ActionHost
import DriverSpec
import FlowModel
import Primitives

/// The engine's built-in actions (see ``HookPlan``), each a sequence of
/// primitive calls through the router like an action's, so they are
/// recorded, replayed and retried the same way:
///
/// - `builtin-install`: `install_components(version, components)`;
///   `builtin-upgrade`: `upgrade_deployment_version(target_version)`.
/// - `builtin-backup`: `backup_component` per component with a built-in strategy.
/// - `builtin-restore`: `stop_components` of the components without a
///   backup, then of the `disk` ones; `restore_component` per built-in
///   component the backup kept; `start_components` of the `disk` ones.
///   `builtin-start`: `start_components` of the components without a backup.
/// - `builtin-uninstall`: `uninstall_deployment`; `builtin-purge-backups`:
///   `delete_backup_artifacts` per backup the delete purges.
enum BuiltInCore {
    /// One call of a built-in action: a primitive an action could call too, or an engine built-in.
    enum Call {
        case primitive(String, JSONValue)
        case builtIn(String, JSONValue)
    }

    static func run(action: String, spec: DriverSpecification, inputs: JSONValue, router: ActionCallRouter) async -> ActionOutcome {
        for (index, call) in calls(action: action, spec: spec, inputs: inputs).enumerated() {
            let reply: ActionReply
            switch call {
            case .primitive(let name, let arguments):
                reply = await router.handle(ActionCallRequest(sequence: index + 1, call: .primitive(name: name, deployment: nil, arguments: arguments)))
            case .builtIn(let name, let arguments):
                reply = await router.builtIn(seq: index + 1, name: name, arguments: arguments)
            }
            if case .failure(let error) = reply {
                return ActionOutcome(status: .failed, error: error, logBytesDropped: 0)
            }
        }
        return ActionOutcome(status: .succeeded, value: .null, logBytesDropped: 0)
    }

    /// The calls of built-in action `action`, in order.
    static func calls(action: String, spec: DriverSpecification, inputs: JSONValue) -> [Call] {
        let strategies = spec.components.map { ($0.name, BackupStrategy(of: $0)) }
        let stateless = strategies.filter { $0.1 == nil }.map { JSONValue.string($0.0) }
        let disk = strategies.filter { $0.1 == .disk }.map { JSONValue.string($0.0) }
        let backupID = inputs["backup_id"] ?? .null
        switch action {
        case "builtin-install":
            return [.builtIn("install_components", [
                "version": inputs["target_version"] ?? .null, "components": .array(spec.components.map { .string($0.name) }),
            ])]
        case "builtin-upgrade":
            return [.primitive("upgrade_deployment_version", ["target_version": inputs["target_version"] ?? .null])]
        case "builtin-backup":
            return strategies.compactMap { name, strategy in
                guard let strategy, strategy.isBuiltIn, case .int(let id) = backupID else { return nil }
                return .builtIn("backup_component", [
                    "backup_id": backupID, "name": .string(ComponentBackupRequest.clusterName(backupID: Int64(id), component: name)),
                    "component": .string(name),
                ])
            }
        case "builtin-restore":
            var calls: [Call] = []
            if !stateless.isEmpty { calls.append(.primitive("stop_components", ["components": .array(stateless)])) }
            if !disk.isEmpty { calls.append(.primitive("stop_components", ["components": .array(disk)])) }
            for (name, strategy) in strategies {
                guard let strategy, strategy.isBuiltIn, case .int(let id) = backupID,
                      let artifacts = inputs["artifacts"]?[name] else { continue }
                calls.append(.builtIn("restore_component", [
                    "backup_id": backupID, "name": .string(ComponentBackupRequest.clusterName(backupID: Int64(id), component: name)),
                    "component": .string(name), "artifacts": artifacts,
                ]))
            }
            if !disk.isEmpty { calls.append(.primitive("start_components", ["components": .array(disk)])) }
            return calls
        case "builtin-start":
            return stateless.isEmpty ? [] : [.primitive("start_components", ["components": .array(stateless)])]
        case "builtin-uninstall":
            return [.builtIn("uninstall_deployment", .object([:]))]
        case "builtin-purge-backups":
            return (inputs["purge"]?.arrayValue ?? []).map { backup in
                .builtIn("delete_backup_artifacts", ["backup_id": backup["id"] ?? .null, "artifacts": backup["artifacts"] ?? .array([])])
            }
        default:
            return []
        }
    }
}
