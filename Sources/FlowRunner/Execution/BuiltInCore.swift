import ActionHost
import DriverSpec
import FlowModel

/// The core that runs when a driver declares no `core` action: `setup`
/// installs the components at the app version (the built-in primitive
/// `install_components`), `upgrade` calls `upgrade_deployment_version(target_version)`.
/// Both go through the router like an action's primitive calls, so they are
/// recorded, replayed and retried the same way.
enum BuiltInCore {
    static func run(hook: Hook, spec: DriverSpecification, inputs: JSONValue, router: ActionCallRouter) async -> ActionOutcome {
        let target = inputs["target_version"] ?? .null
        let reply: ActionReply
        switch hook {
        case .setup:
            let arguments: JSONValue = ["version": target, "components": .array(spec.components.map { .string($0.name) })]
            reply = await router.builtIn(seq: 1, name: "install_components", arguments: arguments)
        case .upgrade:
            reply = await router.handle(ActionCallRequest(sequence: 1, call: .primitive(
                name: "upgrade_deployment_version", deployment: nil, arguments: ["target_version": target]
            )))
        }
        switch reply {
        case .failure(let error):
            return ActionOutcome(status: .failed, error: error, logBytesDropped: 0)
        default:
            return ActionOutcome(status: .succeeded, value: .null, logBytesDropped: 0)
        }
    }
}
