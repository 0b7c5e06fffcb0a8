import ActionHost
import ArgumentParser
import FlowRunner
import Foundation
import Primitives
import StateStore

/// `flowrunner deployments list|show [NAME] [--output json]`.
struct DeploymentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployments", abstract: "List and show deployments.",
        subcommands: [DeploymentsListCommand.self, DeploymentsShowCommand.self]
    )
}

enum DeploymentJSON {
    static func of(_ deployment: DeploymentRecord, driver: DriverVersionRecord?) -> JSONValue {
        .object([
            "name": .string(deployment.name), "driver": .string(deployment.driver),
            "driver_version": driver.map { .int(Int64($0.number)) } ?? .null,
            "driver_digest": driver.map { .string($0.digest) } ?? .null,
            "app_version": .string(deployment.appVersion),
            "parameters": JSONValue(storedText: deployment.parametersJSON) ?? .object([:]),
            "config": JSONValue(storedText: deployment.configJSON) ?? .object([:]),
            "created_at": RunReport.time(deployment.createdAt), "updated_at": RunReport.time(deployment.updatedAt),
        ])
    }
}

struct DeploymentsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List deployments.")

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() throws {
        let store = try stateOptions.open()
        do {
            let deployments = try store.deployments()
            let rows = try deployments.map { ($0, try store.driverVersion(id: $0.driverVersionID)) }
            switch output {
            case .json:
                print(JSONValue.array(rows.map { DeploymentJSON.of($0.0, driver: $0.1) }).prettyText)
            case .text:
                guard !rows.isEmpty else {
                    print("No deployments. Create one with: flowrunner deploy NAME --driver DRIVER --app-version V")
                    return
                }
                Table.print(["NAME", "DRIVER", "DRIVER VERSION", "APP VERSION", "UPDATED"], rows.map { deployment, driver in
                    [deployment.name, deployment.driver, driver.map { String($0.number) } ?? "?", deployment.appVersion, TimeFormat.table(deployment.updatedAt)]
                })
            }
        } catch let error as StateStoreError {
            throw error.commandFailure
        }
    }
}

struct DeploymentsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a deployment, its simulated cluster and its recent runs.")

    @Argument(help: "The deployment's name.")
    var name: String

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() throws {
        let store = try stateOptions.open()
        do {
            guard let deployment = try store.deployment(named: name) else {
                let known = try store.deployments().map(\.name)
                throw CommandFailure.badInput("unknown deployment \"\(name)\"" + (known.isEmpty ? "" : " (deployments: \(known.joined(separator: ", ")))"))
            }
            let driver = try store.driverVersion(id: deployment.driverVersionID)
            let runs = try store.runs(matching: RunFilter(deployment: name, limit: 10))
            var cluster: JSONValue?
            if let state = try? StateStoreClusterStorage(store: store, deployment: name).load() {
                cluster = JSONValue(storedText: state.jsonText(pretty: false))
            }
            switch output {
            case .json:
                guard case .object(var members) = DeploymentJSON.of(deployment, driver: driver) else { return }
                members["cluster"] = cluster ?? .null
                members["runs"] = .array(runs.map(RunText.summary))
                print(JSONValue.object(members).prettyText)
            case .text:
                print("Deployment \(deployment.name): \(deployment.driver) (driver version \(driver.map { String($0.number) } ?? "?")), app version \(deployment.appVersion)")
                print("Parameters: \(deployment.parametersJSON)")
                if let workloads = cluster?["workloads"]?.arrayValue {
                    print("Cluster (simulated), version \(cluster?["app_version"]?.stringValue ?? "-"):")
                    for workload in workloads {
                        let images = workload["images"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
                        print("  \(workload["component"]?.stringValue ?? "?"): \(workload["replicas"]?.intValue ?? 0) replicas (\(workload["ready_replicas"]?.intValue ?? 0) ready), \(images)")
                    }
                }
                print("Recent runs:")
                for run in runs {
                    print("  \(run.id)  \(run.hook)  \(run.status.rawValue)  attempt \(run.attempt)  \(TimeFormat.table(run.createdAt))")
                }
            }
        } catch let error as StateStoreError {
            throw error.commandFailure
        }
    }
}
