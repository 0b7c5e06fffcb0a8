import ArgumentParser
import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import Primitives

/// The formats `render` prints.
enum ValuesFormat: String, ExpressibleByArgument, CaseIterable {
    case yaml, json
}

/// `flowrunner render DIR [--hook setup|upgrade] [--from V] [--to V] [--param K=V]... [--config K=V]...
/// [--env COMPONENT.NAME=VALUE]... [--command COMPONENT=JSON] [--args COMPONENT=JSON] [--deployment NAME] [--output yaml|json]`:
/// the Helm values a hook would apply, rendered from the driver's
/// `values.j2.yml` with Jinja2 (DESIGN.md "Helm values").
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a driver's values.j2.yml as a hook would, and print the Helm values.",
        discussion: """
            The template sees the GlobalContext a hook of a deployment called --deployment (default: preview) \
            would get: app.version is --to (the driver's default_version when not given), and for --hook upgrade \
            app.previous_version is --from. Undefined names are errors with the template's line. Needs the jinja2 \
            package for the Python FlowRunner runs. Exit status: 0 rendered, 1 the template or driver failed, 2 bad input.
            """
    )

    @Argument(help: "The driver directory.")
    var directory: String

    @Option(name: .long, help: "The hook: setup or upgrade (the hooks that apply values).")
    var hook: Hook = .setup

    @Option(name: .customLong("from"), help: "With --hook upgrade, the version installed before.")
    var fromVersion: String?

    @Option(name: .customLong("to"), help: "The version the hook installs or upgrades to.")
    var toVersion: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("A driver parameter (repeatable).", valueName: "name=value"))
    var parameters: [String] = []

    @Option(name: .customLong("config"), help: ArgumentHelp("Deployment configuration, instance.config.NAME (repeatable).", valueName: "name=value"))
    var config: [String] = []

    @OptionGroup var componentOptions: ComponentOptions

    @Option(name: .long, help: "The deployment name the context is built for.")
    var deployment = "preview"

    @Option(name: .long, help: ArgumentHelp("The cluster whose configuration is instance.config's first layer (default: simulated).", valueName: "name"))
    var cluster = SimulatedClusterProvider.clusterName

    @Option(name: .long, help: "Output format: yaml (what Helm receives) or json.")
    var output: ValuesFormat = .yaml

    @Option(name: .long, help: "The Python interpreter (default: $FLOWRUNNER_PYTHON, else python3 on PATH).")
    var python: String?

    /// Where compiled templates are kept (beside the state file; the state itself is not opened).
    @OptionGroup var stateOptions: StateOptions

    /// The configuration of `--cluster`; the state is opened only for a registered cluster.
    func clusterConfiguration() async throws -> [String: JSONValue] {
        guard cluster != SimulatedClusterProvider.clusterName else { return SimulatedClusterProvider.configuration }
        let store = try await stateOptions.openForReading()
        do {
            return try await ClusterProviders.make(store: store).configuration(cluster: cluster)
        } catch {
            throw CommandFailure.badInput("--cluster: \(error.message)")
        }
    }

    func run() async throws {
        guard hook.setsAppVersion else {
            throw CommandFailure.badInput("--hook \(hook.rawValue): only setup and upgrade apply Helm values (backup, restore and delete leave the release's values as they are)")
        }
        // Only the spec and the template matter here (no Python files checked);
        // the template is rendered below with the given inputs, its faults reported there.
        let loaded = try await DriverLoader.loadForCommand(directory, python: python, rendersValues: false, checksPython: false)
        guard loaded.isValid, let spec = loaded.specification else {
            // Standard output is for the values; the findings (a template fault among them) go with the error.
            for diagnostic in loaded.diagnostics { Terminal.write("\(diagnostic)\n", to: STDERR_FILENO) }
            throw CommandFailure.failed("\(directory): the driver is invalid; nothing was rendered")
        }
        guard let target = toVersion ?? spec.defaultVersion?.description else {
            throw CommandFailure.badInput("no --to given and driver \(spec.name) has no default_version")
        }
        guard let template = HelmValues.template(of: loaded.snapshot) else {
            throw CommandFailure.badInput("\(directory) has no \(HelmValues.file) (the guide's Step 5): there are no values to render")
        }
        let context: JSONValue
        do {
            let clusterConfig = try await clusterConfiguration()
            context = try HelmValues.context(
                spec: spec, deployment: deployment, appVersion: target,
                previousVersion: hook == .upgrade ? (fromVersion ?? spec.defaultVersion?.description) : nil,
                parameters: try Pairs.parse(parameters, option: "--param").mapValues(ParameterInput.text),
                config: try Pairs.parse(config, option: "--config").mapValues(JSONValue.string),
                components: try componentOptions.parsed().inputs, cluster: cluster, clusterConfig: clusterConfig)
        } catch let error as EngineError {
            throw error.commandFailure
        }
        let rendered: HelmValues.Rendered
        do {
            // The cache sits beside a state file; a state URL (a database) has no directory of ours.
            let local = !stateOptions.path.contains("://")
            let renderer = HelmValues.Renderer(
                python: python, interpreterCacheFile: local ? stateOptions.directory + "/python-interpreter.json" : nil,
                cacheDirectory: local ? stateOptions.directory + "/values-cache" : nil)
            switch try await renderer.render(template, context: context) {
            case .success(let values): rendered = values
            case .failure(let failure):
                let diagnostic = failure.diagnostic
                // Named like the other findings: the driver directory, then the template's line.
                throw CommandFailure.failed(diagnostic.location.file.hasPrefix(HelmValues.file)
                    ? directory + "/" + diagnostic.description : diagnostic.description)
            }
        } catch let error as EngineError {
            throw error.commandFailure
        }
        switch output {
        case .yaml: print(rendered.text, terminator: rendered.text.hasSuffix("\n") ? "" : "\n")
        case .json: print(rendered.values.prettyText)
        }
    }
}
