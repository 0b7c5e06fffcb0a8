import ArgumentParser
import FlowRunner

/// `--env COMPONENT.NAME=VALUE`, `--command COMPONENT=JSON`, `--args COMPONENT=JSON`:
/// the operator's inputs per component (``ComponentInputs``), for `deploy`,
/// `render` and `deployments set`.
struct ComponentOptions: ParsableArguments {
    @Option(name: .customLong("env"), help: ArgumentHelp("An env var of a component (repeatable); component.name- removes it.", valueName: "component.name=value"))
    var env: [String] = []

    @Option(name: .customLong("command"), help: ArgumentHelp("A component's container command, a JSON list (null clears it).", valueName: "component=json"))
    var command: [String] = []

    @Option(name: .customLong("args"), help: ArgumentHelp("A component's container args, a JSON list (null clears them).", valueName: "component=json"))
    var args: [String] = []

    /// The inputs given, and the overrides to clear.
    func parsed() throws -> (inputs: ComponentInputs, clearing: Set<ComponentInputs.Clearing>) {
        do {
            return try ComponentInputs.parse(env: env, command: command, args: args)
        } catch {
            throw error.commandFailure
        }
    }

    var isEmpty: Bool { env.isEmpty && command.isEmpty && args.isEmpty }
}
