import ActionHost
public import ArgumentParser
import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import Primitives
import Scheduler
import StateStore

extension Hook: ExpressibleByArgument {}

/// `flowrunner dry-run DIR --hook setup|upgrade|backup|restore|delete [--from V] [--to V] [--param K=V]... [--fixture FILE] [--output json]`.
struct DryRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dry-run",
        abstract: "Run a driver's hook against a throwaway simulated cluster and show what it would do.",
        discussion: """
            Validates the driver, runs its real actions through the real Python host against a simulated \
            cluster, and prints the plan, a step timeline, the logs and the cluster before/after. Touches no \
            state file. --to is the version the hook installs (setup) or upgrades to (upgrade); --from is the \
            version installed before an upgrade, a backup, a restore (of a backup the dry-run takes first) or a \
            delete (--to there too); both default to the driver's default_version. \
            Exit status: 0 the hook would succeed, 1 it would fail (or the driver is invalid), 2 bad input.
            """
    )

    @Argument(help: "The driver directory.")
    var directory: String

    @Option(name: .long, help: "The hook: setup, upgrade, backup, restore or delete.")
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
        // A bad fixture is refused before the driver's Python files are checked (that starts Python).
        _ = try runOptions.fixtureAppVersion()
        let loaded = try await DriverLoader.loadForCommand(directory, python: runOptions.python)
        guard loaded.isValid, let spec = loaded.specification else {
            for diagnostic in loaded.diagnostics { print(diagnostic) }
            throw CommandFailure.failed("\(directory): the driver is invalid; nothing was run")
        }
        guard let target = toVersion ?? (hook.setsAppVersion ? nil : fromVersion) ?? spec.defaultVersion?.description else {
            throw CommandFailure.badInput("no --to\(hook.setsAppVersion ? "" : " or --from") given and driver \(spec.name) has no default_version")
        }
        // Backup, restore and delete act on the installed version: --from, else --to names it.
        let installed = try fromVersion ?? (hook.setsAppVersion ? nil : toVersion) ?? runOptions.fixtureAppVersion()
            ?? spec.defaultVersion?.description ?? target
        let inputs = try Pairs.parse(parameters, option: "--param").mapValues(ParameterInput.text)
        guard let resolved = realpath(directory, nil) else {
            throw CommandFailure.badInput("\(directory): \(String(cString: strerror(errno)))")
        }
        let driverDirectory = String(cString: resolved)
        free(resolved)
        let scratch = NSTemporaryDirectory() + "flowrunner-dry-run-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let store: SQLiteStateStore
        do {
            store = try SQLiteStateStore(path: scratch + "/state.sqlite")
        } catch {
            throw CommandFailure.failed(error.description)
        }
        let engine = try runOptions.engine(store: store, cacheDirectory: scratch, driverDirectoryOverride: driverDirectory)
        let dryRun = DryRun(scheduler: runOptions.scheduler(engine: engine), cluster: SimulatedClusterProvider.clusterName)
        let result: DryRun.Result
        do {
            let prepared = try await dryRun.prepare(
                driver: loaded, directory: directory, hook: hook, targetVersion: target, installedVersion: installed, parameters: inputs
            )
            if output == .text {
                let before = JSONValue(storedText: prepared.clusterBefore)
                let versions = hook == .upgrade ? "\(before?["app_version"]?.stringValue ?? "?") → \(target)" : hook == .setup ? target : installed
                Terminal.line("Dry-run of \(hook.rawValue) for driver \(spec.name) (\(versions)) on a simulated cluster")
                Terminal.line("Plan: " + DryRun.planByMode(prepared.plan).map { "\($0.mode): \($0.actions.isEmpty ? "-" : $0.actions.joined(separator: ", "))" }.joined(separator: " | "))
            }
            var worked = try await dryRun.execute(
                run: prepared.run, plan: prepared.plan, clusterBefore: prepared.clusterBefore,
                observer: output == .text ? ProgressPrinter(showLogs: true) : nil
            )
            await dryRun.renderValues(into: &worked, driver: loaded, hook: hook, installedVersion: installed, parameters: inputs)
            result = worked
        } catch {
            throw error.isBadInput ? CommandFailure.badInput(error.message) : CommandFailure.failed(error.message)
        }
        switch output {
        case .json:
            print(result.json.prettyText)
        case .text:
            print("")
            print("Cluster changes:")
            let changes = ClusterDiff.describe(beforeJSON: result.clusterBefore, afterJSON: result.clusterAfter)
            print(changes.isEmpty ? "  (none)" : changes.map { "  " + $0 }.joined(separator: "\n"))
            printValues(result)
            print("")
            if result.run.status == .succeeded {
                // With values that do not render, the failure is said below.
                if result.valuesError == nil { print("The \(hook.rawValue) hook would succeed.") }
            } else {
                print("The \(hook.rawValue) hook would FAIL: \(RunSummary.errorText(result.run.errorJSON) ?? result.run.status.rawValue)")
                for (action, _) in result.report.actions {
                    if let error = JSONValue(storedText: action.errorJSON), let traceback = error["traceback"]?.stringValue, !traceback.isEmpty {
                        print(traceback)
                    }
                }
            }
        }
        if result.run.status != .succeeded { throw ExitCode(CommandFailure.failedCode) }
        if let error = result.valuesError {
            // The hook itself would succeed, but a cluster could not take values that do not render.
            if output == .text { print("The \(hook.rawValue) hook would FAIL: its Helm values do not render: \(error)") }
            throw ExitCode(CommandFailure.failedCode)
        }
    }
}

extension DryRunCommand {
    /// The Helm values the hook applies: all of them for a setup, what
    /// changes for an upgrade.
    func printValues(_ result: DryRun.Result) {
        if let error = result.valuesError {
            print("")
            print("Helm values: not rendered: \(error)")
            return
        }
        guard let values = result.values else { return }
        print("")
        if let before = result.valuesBefore {
            let changes = HelmValues.diff(before: before, after: values)
            print("Helm values (values.j2.yml), what the upgrade changes:")
            print(changes.isEmpty ? "  (none)" : changes.map { "  " + $0 }.joined(separator: "\n"))
        } else {
            print("Helm values (values.j2.yml):")
            print(values.prettyText.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
    }
}

enum ClusterDiff {
    /// Lines for what changed between two cluster views (JSON text of
    /// ``SimulatedClusterState``); nothing when either cannot be read.
    static func describe(beforeJSON: String, afterJSON: String) -> [String] {
        guard let before = try? SimulatedClusterState(jsonText: beforeJSON), let after = try? SimulatedClusterState(jsonText: afterJSON) else {
            return []
        }
        return describe(before: before, after: after)
    }

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
