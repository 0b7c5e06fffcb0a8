import ArgumentParser
import FlowModel
import FlowRunner
import Foundation
import StateStore

/// `flowrunner clusters add|list|show` (DESIGN.md "Clusters").
struct ClustersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusters", abstract: "Register and list the clusters deployments live on.",
        subcommands: [ClustersAddCommand.self, ClustersListCommand.self, ClustersShowCommand.self]
    )
}

/// `flowrunner clusters add NAME --kubernetes [--kubeconfig FILE] [--context C] [--in-cluster] [--config K=V]...`.
struct ClustersAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Register a Kubernetes cluster.",
        discussion: """
            The kubeconfig's path and the context's name are stored, never its credentials: the file is read each time the \
            cluster is reached. Its --config values are the first layer of a deployment's instance.config (fqdn_suffix, \
            ingress_class, chart_repository, ...); a deployment's own --config wins over them.
            """
    )

    @Argument(help: "The cluster's name (a DNS label: lowercase letters, digits and '-').")
    var name: String

    @Flag(name: .long, help: "The cluster is a Kubernetes cluster (the only kind that can be registered).")
    var kubernetes = false

    @Option(name: .long, help: ArgumentHelp("The kubeconfig file (default: the first file of $KUBECONFIG, else ~/.kube/config).", valueName: "file"))
    var kubeconfig: String?

    @Option(name: .long, help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
    var context: String?

    @Flag(name: .customLong("in-cluster"), help: "Reach the API server with the pod's service account (when the engine runs in the cluster).")
    var inCluster = false

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration for the deployments on it (repeatable).", valueName: "key=value"))
    var config: [String] = []

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        guard kubernetes else { throw CommandFailure.badInput("say what the cluster is: --kubernetes (the only kind that can be registered)") }
        if inCluster, kubeconfig != nil || context != nil {
            throw CommandFailure.badInput("--in-cluster uses the pod's service account: give it without --kubeconfig and --context")
        }
        let values = try Pairs.parse(config, option: "--config").mapValues(JSONValue.string)
        let file = inCluster ? nil : Self.absolute(kubeconfig ?? Self.defaultKubeconfig())
        let store = try await stateOptions.open()
        let registry = ClusterRegistry(store: store, clusters: ClusterProviders.make(store: store))
        let record: ClusterRecord
        do {
            record = try await registry.register(NewCluster(
                name: name, kind: .kubernetes, kubeconfig: file, context: context, inCluster: inCluster,
                configJSON: JSONValue.object(values).jsonText))
        } catch {
            throw error.commandFailure
        }
        let access = record.inCluster ? "in-cluster service account" : "context \(record.context ?? "(current)") of \(record.kubeconfig ?? "?")"
        print("cluster \(record.name) registered (kubernetes, \(access)); deploy to it with: flowrunner deploy NAME --cluster \(record.name) ...")
    }

    /// The first file of `$KUBECONFIG`, else `~/.kube/config`, as kubectl reads them.
    static func defaultKubeconfig() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first, !first.isEmpty { return String(first) }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// `flowrunner clusters list [--output json]`.
struct ClustersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the clusters.")

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let reports = try await ClustersShowCommand.reports(stateOptions)
        switch output {
        case .json:
            print(JSONValue.array(reports.map(\.json)).prettyText)
        case .text:
            Table.print(["NAME", "KIND", "ACCESS", "DEPLOYMENTS"], reports.map { report in
                [report.name, report.kind, ClustersShowCommand.access(report), String(report.deployments.count)]
            })
        }
    }
}

/// `flowrunner clusters show NAME [--output json]`.
struct ClustersShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a cluster, its configuration and its deployments.")

    @Argument(help: "The cluster.")
    var name: String

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let reports = try await Self.reports(stateOptions)
        guard let report = reports.first(where: { $0.name == name }) else {
            throw CommandFailure.badInput("unknown cluster \"\(name)\" (clusters: \(reports.map(\.name).joined(separator: ", ")))")
        }
        switch output {
        case .json:
            print(report.json.prettyText)
        case .text:
            print("Cluster \(report.name): \(report.kind), \(Self.access(report))")
            let config = report.config.objectValue ?? [:]
            print("Config: " + (config.isEmpty ? "(none)" : config.keys.sorted().map { "\($0)=\(config[$0]?.stringValue ?? config[$0]?.jsonText ?? "")" }.joined(separator: ", ")))
            print("Deployments: " + (report.deployments.isEmpty ? "(none)" : report.deployments.joined(separator: ", ")))
        }
    }

    /// Every cluster of the state file, the embedded one first.
    static func reports(_ stateOptions: StateOptions) async throws -> [ClusterReport] {
        let store = try await stateOptions.openForReading()
        do {
            return try await ClusterRegistry(store: store, clusters: ClusterProviders.make(store: store)).reports()
        } catch {
            throw error.commandFailure
        }
    }

    /// How the cluster is reached, for people.
    static func access(_ report: ClusterReport) -> String {
        guard let record = report.record else { return "embedded" }
        if record.inCluster { return "in-cluster service account" }
        return "context \(record.context ?? "(current)") of \(record.kubeconfig ?? "?")"
    }
}
