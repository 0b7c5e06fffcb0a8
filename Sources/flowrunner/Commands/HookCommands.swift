import ArgumentParser
import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import Primitives
import StateStore

/// `flowrunner deploy NAME --driver DRIVER --app-version V [--param K=V]... [--detach]`.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Create a deployment and run its setup hook.",
        discussion: "The run is worked in this process unless --detach leaves it to `flowrunner serve`. Exit status: 0 succeeded, 1 the run failed, 2 bad input."
    )

    @Argument(help: "The deployment's name.")
    var name: String

    @Option(name: .long, help: "The loaded driver to deploy (its newest version).")
    var driver: String

    @Option(name: .customLong("app-version"), help: "The application version to install.")
    var appVersion: String

    @Option(name: .customLong("param"), help: ArgumentHelp("A driver parameter (repeatable).", valueName: "name=value"))
    var parameters: [String] = []

    @Option(name: .customLong("config"), help: ArgumentHelp("Instance configuration for the context (repeatable).", valueName: "key=value"))
    var config: [String] = []

    @Option(name: .customLong("secret-config"), help: ArgumentHelp("Configuration whose value is shown as *** everywhere (repeatable).", valueName: "key=value"))
    var secretConfig: [String] = []

    @Option(name: .long, help: "The cluster the deployment lives on.")
    var cluster = SimulatedClusterProvider.clusterName

    @Flag(name: .long, help: "Only queue the run; `flowrunner serve` works it.")
    var detach = false

    @OptionGroup var componentOptions: ComponentOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        let store = try await stateOptions.open()
        let engine = try runOptions.engine(store: store, cacheDirectory: stateOptions.directory, rendersOnce: !detach)
        await engine.configuration.valuesRenderer?.prewarm()
        let parameterInputs = try Pairs.parse(parameters, option: "--param").mapValues(ParameterInput.text)
        let configValues = try Pairs.parse(config, option: "--config").mapValues(JSONValue.string)
        let secretValues = try Pairs.parse(secretConfig, option: "--secret-config").mapValues(JSONValue.string)
        let components = try componentOptions.parsed().inputs
        let created: (deployment: DeploymentRecord, run: RunRecord)
        do {
            created = try await engine.requestSetup(
                deployment: name, driver: driver, appVersion: appVersion, cluster: cluster, parameters: parameterInputs, config: configValues,
                secretConfig: secretValues, components: components
            )
        } catch {
            await engine.configuration.valuesRenderer?.release()  // refused: nothing will render
            throw error.commandFailure
        }
        if detach {
            print("run \(created.run.id) queued: setup of \(name) (\(driver) \(appVersion))")
            return
        }
        try await RunWorker.work(created.run, scheduler: runOptions.scheduler(engine: engine), headline: "setup of \(name) (\(driver) \(appVersion))")
    }
}

/// `flowrunner upgrade NAME --to V [--driver-version N|latest] [--detach]`.
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Run a deployment's upgrade hook.",
        discussion: "The run is worked in this process unless --detach leaves it to `flowrunner serve`. Exit status: 0 succeeded, 1 the run failed, 2 bad input."
    )

    @Argument(help: "The deployment's name.")
    var name: String

    @Option(name: .customLong("to"), help: "The application version to upgrade to.")
    var targetVersion: String

    @Option(name: .customLong("driver-version"), help: "Run with driver version N, or `latest` (default: the deployment's pinned version).")
    var driverVersion: DriverVersionChoice?

    @Flag(name: .long, help: "Only queue the run; `flowrunner serve` works it.")
    var detach = false

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        try await RunWorker.submit(state: stateOptions, options: runOptions, detach: detach, rendersValues: true) { (engine) async throws(EngineError) in
            try await engine.requestUpgrade(deployment: name, targetVersion: targetVersion, driverVersion: driverVersion?.number)
        } run: { $0 } headline: { _ in "upgrade of \(name) to \(targetVersion)" }
    }
}

/// `--driver-version N|latest`: a number, or 0 for the newest.
struct DriverVersionChoice: ExpressibleByArgument {
    var number: Int

    init?(argument: String) {
        if argument == "latest" {
            number = 0
        } else if let value = Int(argument), value > 0 {
            number = value
        } else {
            return nil
        }
    }
}

/// `K=V` pairs.
enum Pairs {
    static func parse(_ pairs: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CommandFailure.badInput("\(option) \"\(pair)\": expected NAME=VALUE")
            }
            result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return result
    }
}
