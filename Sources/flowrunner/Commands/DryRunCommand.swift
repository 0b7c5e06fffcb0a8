import ActionHost
public import ArgumentParser
public import DriverSpec
import FlowRunner
import Foundation
import Primitives
import StateStore

extension Hook: ExpressibleByArgument {}

/// `flowrunner dry-run DIR --hook setup|upgrade [--from V] [--to V] [--param K=V]... [--fixture FILE] [--output json]`.
struct DryRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Run a driver's hook against a throwaway simulated cluster and show what it would do.",
        discussion: """
            Validates the driver, runs its real actions through the real Python host against a simulated \
            cluster, and prints the plan, a step timeline, the logs and the cluster before/after. Touches no \
            state file. --to is the version the hook installs (setup) or upgrades to (upgrade); --from is the \
            version installed before an upgrade; both default to the driver's default_version. \
            Exit status: 0 the hook would succeed, 1 it would fail (or the driver is invalid), 2 bad input.
            """
    )

    @Argument(help: "The driver directory.")
    var directory: String

    @Option(name: .long, help: "The hook: setup or upgrade.")
    var hook: Hook

    @Option(name: .customLong("from"), help: "The version installed before an upgrade.")
    var fromVersion: String?

    @Option(name: .customLong("to"), help: "The version the hook installs or upgrades to.")
    var toVersion: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("A driver parameter (repeatable).", valueName: "name=value"))
    var parameters: [String] = []

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        let loaded = try DriverLoader.loadForCommand(directory)
        guard loaded.isValid, let spec = loaded.specification else {
            for diagnostic in loaded.diagnostics { print(diagnostic) }
            throw CommandFailure.failed("\(directory): the driver is invalid; nothing was run")
        }
        guard let target = toVersion ?? spec.defaultVersion?.description else {
            throw CommandFailure.badInput("no --to given and driver \(spec.name) has no default_version")
        }
        let scratch = NSTemporaryDirectory() + "flowrunner-dry-run-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let store: StateStore
        do {
            store = try StateStore(path: scratch + "/state.sqlite")
        } catch {
            throw CommandFailure.failed(error.description)
        }
        var engine = try runOptions.engine(store: store, cacheDirectory: scratch)
        var configuration = engine.configuration
        guard let resolved = realpath(directory, nil) else {
            throw CommandFailure.badInput("\(directory): \(String(cString: strerror(errno)))")
        }
        configuration.driverDirectoryOverride = String(cString: resolved)
        free(resolved)
        engine = Engine(store: store, configuration: configuration)

        let files = loaded.snapshot.files.map { StoredDriverFile(path: $0.path, contents: $0.contents) }
        let deploymentName = "dry-run"
        let run: RunRecord
        let cluster = SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: deploymentName), fixture: configuration.fixture)
        do {
            let version = try store.storeDriverVersion(driver: spec.name, specVersion: spec.version, digest: loaded.snapshot.digest, files: files).record
            let inputs = try Pairs.parse(parameters, option: "--param").mapValues(ParameterInput.text)
            switch hook {
            case .setup:
                run = try engine.requestSetup(deployment: deploymentName, driver: spec.name, appVersion: target, parameters: inputs).run
            case .upgrade:
                let installed = fromVersion ?? configuration.fixture.appVersion ?? spec.defaultVersion?.description ?? target
                _ = try engine.adoptDeployment(name: deploymentName, driverVersionID: version.id, appVersion: installed, parameters: inputs)
                try await cluster.install(spec: spec, version: installed)
                run = try engine.requestUpgrade(deployment: deploymentName, targetVersion: target)
            }
        } catch let error as EngineError {
            throw error.commandFailure
        } catch let error as StateStoreError {
            throw CommandFailure.failed(error.description)
        } catch let error as ClusterError {
            throw CommandFailure.failed("cannot set up the simulated cluster: \(error.message)")
        }
        let before = (try? await cluster.state()) ?? SimulatedClusterState()
        let plan = HookPlanText.describe(spec: spec, hook: hook)
        if output == .text {
            let versions = hook == .upgrade ? "\(before.appVersion ?? "?") → \(target)" : target
            Terminal.line("Dry-run of \(hook.rawValue) for driver \(spec.name) (\(versions)) on a simulated cluster")
            Terminal.line("Plan: " + plan.map { "\($0.mode): \($0.actions.isEmpty ? "-" : $0.actions.joined(separator: ", "))" }.joined(separator: " | "))
        }
        let final: RunRecord
        do {
            final = try await engine.execute(runID: run.id, observer: output == .text ? ProgressPrinter(showLogs: true) : nil)
        } catch {
            throw error.commandFailure
        }
        let after = (try? await SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: deploymentName)).state()) ?? before
        let report: RunReport
        do {
            guard let loadedReport = try RunReport.load(runID: final.id, from: store) else { throw CommandFailure.failed("the run vanished") }
            report = loadedReport
        } catch let error as StateStoreError {
            throw CommandFailure.failed(error.description)
        }
        switch output {
        case .json:
            guard case .object(var members) = report.json else { return }
            members["cluster_before"] = JSONValue(storedText: before.jsonText(pretty: false)) ?? .null
            members["cluster_after"] = JSONValue(storedText: after.jsonText(pretty: false)) ?? .null
            members["plan"] = .array(plan.map { .object(["mode": .string($0.mode), "actions": .array($0.actions.map(JSONValue.string))]) })
            members["logs"] = .array(((try? store.logs(runID: final.id)) ?? []).map { line in
                .object(["action": line.action.map(JSONValue.string) ?? .null, "attempt": .int(Int64(line.attempt)),
                         "level": .string(line.level.rawValue), "logger": .string(line.logger), "message": .string(line.message),
                         "time": RunReport.time(line.time)])
            })
            print(JSONValue.object(members).prettyText)
        case .text:
            print("")
            print("Cluster changes:")
            let changes = ClusterDiff.describe(before: before, after: after)
            print(changes.isEmpty ? "  (none)" : changes.map { "  " + $0 }.joined(separator: "\n"))
            print("")
            if final.status == .succeeded {
                print("The \(hook.rawValue) hook would succeed.")
            } else {
                print("The \(hook.rawValue) hook would FAIL: \(RunText.errorSummary(final.errorJSON) ?? final.status.rawValue)")
                for (action, _) in report.actions {
                    if let error = JSONValue(storedText: action.errorJSON), let traceback = error["traceback"]?.stringValue, !traceback.isEmpty {
                        print(traceback)
                    }
                }
            }
        }
        if final.status != .succeeded { throw ExitCode(CommandFailure.failedCode) }
    }
}

/// The plan of a hook (the engine's own ``HookPlan``), by mode, for display.
enum HookPlanText {
    static func describe(spec: DriverSpecification, hook: Hook) -> [(mode: String, actions: [String])] {
        let entries = HookPlan(spec: spec, hook: hook).entries
        return ActionMode.allCases.map { mode in
            (mode.rawValue, entries.filter { $0.mode == mode }.map { $0.action == nil ? $0.name + " (built-in)" : $0.name })
        }
    }
}

/// What changed in a simulated cluster, in words.
enum ClusterDiff {
    static func describe(before: SimulatedClusterState, after: SimulatedClusterState) -> [String] {
        var lines: [String] = []
        if before.appVersion != after.appVersion {
            lines.append("app version: \(before.appVersion ?? "(none)") → \(after.appVersion ?? "(none)")")
        }
        for workload in after.workloads {
            guard let old = before.workloads.first(where: { $0.name == workload.name }) else {
                lines.append("+ \(workload.component): \(workload.replicas) replicas of \(workload.images.joined(separator: ", "))")
                continue
            }
            var changes: [String] = []
            if old.replicas != workload.replicas { changes.append("replicas \(old.replicas) → \(workload.replicas)") }
            if old.images != workload.images { changes.append("images \(old.images.joined(separator: ", ")) → \(workload.images.joined(separator: ", "))") }
            if old.restarts != workload.restarts { changes.append("restarted \(workload.restarts - old.restarts)×") }
            if !changes.isEmpty { lines.append("~ \(workload.component): " + changes.joined(separator: "; ")) }
        }
        for job in after.jobs where !before.jobs.contains(where: { $0.name == job.name }) {
            let codes = job.result.commands.map { String($0.exitCode) }.joined(separator: ",")
            lines.append("+ job \(job.name) (\(job.image)): \(job.commands.joined(separator: "; ")) → exit \(codes)")
        }
        return lines
    }
}
