import ActionHost
import ArgumentParser
import FlowModel
import FlowRunner
import Foundation
import Primitives
import StateStore

/// `flowrunner deployments list|show`.
struct DeploymentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments", abstract: "List, show and change deployments.",
        subcommands: [DeploymentsListCommand.self, DeploymentsShowCommand.self, DeploymentsSetCommand.self]
    )
}

/// `flowrunner deployments set NAME [--env COMPONENT.NAME=VALUE]... [--command COMPONENT=JSON]... [--args COMPONENT=JSON]...`.
struct DeploymentsSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change a deployment's component inputs; they apply at its next hook run.",
        discussion: "--env sets or replaces one env var, and COMPONENT.NAME- removes it (as kubectl set env does); --command and --args replace an override, and null clears it (the values template then renders [])."
    )

    @Argument(help: "The deployment.")
    var name: String

    @OptionGroup var componentOptions: ComponentOptions
    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        guard !componentOptions.isEmpty else { throw CommandFailure.badInput("nothing to set: give --env, --command or --args") }
        let (changes, clearing) = try componentOptions.parsed()
        let store = try await stateOptions.open()
        let engine = try runOptions.engine(store: store, cacheDirectory: stateOptions.directory)
        let now: ComponentInputs
        do {
            now = try await engine.changeComponentInputs(deployment: name, changes: changes, clearing: clearing)
        } catch {
            throw error.commandFailure
        }
        print("deployment \(name): component inputs \(now.json.jsonText) (from its next hook run)")
    }
}

/// `flowrunner deployments list [--output json]`.
struct DeploymentsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List deployments.")

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.openForReading()
        let rows: [DeploymentReport.Listed]
        do {
            rows = try await DeploymentReport.list(store: store)
        } catch {
            throw error.commandFailure
        }
        switch output {
        case .json:
            print(JSONValue.array(rows.map(\.json)).prettyText)
        case .text:
            guard !rows.isEmpty else {
                print("No deployments. Create one with: flowrunner deploy NAME --driver DRIVER --app-version V")
                return
            }
            Table.print(["NAME", "DRIVER", "DRIVER VERSION", "APP VERSION", "CLUSTER", "UPDATED"], rows.map { row in
                let deployment = row.deployment, driver = row.driver
                return [deployment.name, deployment.driver, driver.map { String($0.number) } ?? "?", deployment.appVersion, deployment.cluster,
                 TimeFormat.table(deployment.updatedAt)]
            })
        }
    }
}

/// `flowrunner deployments show NAME [--output json]`.
struct DeploymentsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a deployment, its cluster and its recent runs.")

    @Argument(help: "The deployment's name.")
    var name: String

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.openForReading()
        let found: DeploymentReport?
        do {
            found = try await DeploymentReport.load(named: name, store: store, clusters: ClusterProviders.make(store: store))
        } catch {
            throw error.commandFailure
        }
        guard let report = found else {
            let known = ((try? await store.deployments()) ?? []).map(\.name)
            throw CommandFailure.badInput("unknown deployment \"\(name)\"" + (known.isEmpty ? "" : " (deployments: \(known.joined(separator: ", ")))"))
        }
        switch output {
        case .json:
            print(report.json.prettyText)
        case .text:
            let deployment = report.deployment
            print("Deployment \(deployment.name): \(deployment.driver) (driver version \(report.driver.map { String($0.number) } ?? "?")), app version \(deployment.appVersion)")
            print("Parameters: \(report.secrets.masked(parameters: JSONValue(storedText: deployment.parametersJSON) ?? .object([:])).jsonText)")
            let cluster = report.cluster
            if let workloads = cluster["workloads"]?.arrayValue {
                print("Cluster \(deployment.cluster), version \(cluster["app_version"]?.stringValue ?? "-"):")
                for workload in workloads {
                    let images = workload["images"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
                    let data = workload["data_revision"]?.intValue.map { ", data revision \($0)" } ?? ""
                    print("  \(workload["component"]?.stringValue ?? workload["name"]?.stringValue ?? "?"): \(workload["replicas"]?.intValue ?? 0) replicas (\(workload["ready_replicas"]?.intValue ?? 0) ready), \(images)\(data)")
                }
            }
            if let reason = report.clusterError {
                print("Cluster \(deployment.cluster): not shown (\(TerminalText.escaped(reason, keepingNewlines: false)))")
            }
            if let releases = cluster["releases"]?.arrayValue, let last = releases.last {
                print("Releases (as helm history lists them):")
                var previous: JSONValue?
                for release in releases {
                    let time = release["applied_at"]?.doubleValue.map { TimeFormat.table(Date(timeIntervalSince1970: $0)) } ?? "-"
                    let values = release["values"] ?? .null
                    let changes = previous.map { HelmValues.diff(before: $0, after: values).count }
                    let note = changes.map { $0 == 0 ? "  values unchanged" : "  \($0) value\($0 == 1 ? "" : "s") changed" } ?? ""
                    print("  \(release["revision"]?.intValue ?? 0)  \(release["app_version"]?.stringValue ?? "?")  \(time)\(note)")
                    previous = values
                }
                if let values = last["values"], values != .null {
                    print("Values of revision \(last["revision"]?.intValue ?? 0):")
                    for line in HelmValues.lines(values) { print("  " + TerminalText.escaped(line, keepingNewlines: false)) }
                }
            }
            if !report.backups.isEmpty {
                print("Backups (flowrunner backups show ID):")
                for backup in report.backups {
                    let parts = (backup.artifactsJSON.flatMap(JSONValue.init(storedText:))?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { component, entry in
                        let artifacts = entry["artifacts"]?.arrayValue ?? []
                        return "\(component): " + (artifacts.isEmpty ? entry["strategy"]?.stringValue ?? "?"
                            : artifacts.map { "\($0["kind"]?.stringValue ?? "?")\($0["size_bytes"]?.intValue.map { " " + BackupReport.sizeText($0) } ?? "")" }.joined(separator: " + "))
                    }
                    print("  \(backup.id)  \(backup.status.rawValue)  \(backup.appVersion)  \(TimeFormat.table(backup.createdAt))" + (parts.isEmpty ? "" : "  " + parts.joined(separator: "; ")))
                }
            }
            print("Recent runs:")
            for run in report.runs {
                print("  \(run.id)  \(run.hook)  \(run.status.rawValue)  attempt \(run.attempt)  \(TimeFormat.table(run.createdAt))")
            }
        }
    }
}
