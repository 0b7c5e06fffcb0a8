import DriverSpec
public import FlowModel
import Foundation

/// The engine's built-in primitives of the backup, restore and delete hooks
/// (DESIGN.md "Backup, restore, delete"). Each is one recorded step, so a
/// retry replays the components already done; the jobs and cluster objects
/// are named after the backup, so a re-execution adopts them.
extension PrimitiveCatalogue {
    /// The names of the backup built-ins.
    static let backupBuiltInNames = ["backup_component", "restore_component", "uninstall_deployment", "delete_backup_artifacts"]

    /// Runs a backup built-in; nil when `name` is not one.
    ///
    /// - `backup_component(backup_id, name, component)`: a database
    ///   strategy's dump job (component image and env, the dump volume
    ///   mounted), then the volume snapshots. Result:
    ///   `{"component", "strategy", "artifacts": [BackupArtifact]}`.
    /// - `restore_component(backup_id, name, component, artifacts)`: the
    ///   volumes back, then a database strategy's restore job. Result:
    ///   `{"component", "strategy", "restored": [artifact names]}`.
    /// - `uninstall_deployment()`: the release and what the deployment made, gone.
    /// - `delete_backup_artifacts(backup_id, artifacts)`: a purged backup's artifacts, gone.
    static func executeBackupBuiltIn(name: String, arguments: JSONValue, in environment: PrimitiveEnvironment) async throws(PrimitiveError) -> JSONValue? {
        let execution = Execution(environment: environment)
        switch name {
        case "backup_component":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["backup_id", "name", "component"])
            return try await execution.backUp(try request(args, environment: environment, artifacts: []))
        case "restore_component":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["backup_id", "name", "component", "artifacts"])
            let artifacts = try decodeArtifacts(args.values["artifacts"] ?? .array([]))
            return try await execution.restore(try request(args, environment: environment, artifacts: artifacts))
        case "uninstall_deployment":
            _ = try PrimitiveArguments(primitive: name, arguments: arguments, known: [])
            try await execution.cluster { () async throws(ClusterError) in try await environment.cluster.uninstall(timeout: environment.defaultTimeout) }
            return ["uninstalled": .string(environment.deployment)]
        case "delete_backup_artifacts":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["backup_id", "artifacts"])
            let artifacts = try decodeArtifacts(args.values["artifacts"] ?? .array([]))
            try await execution.cluster { () async throws(ClusterError) in try await environment.cluster.deleteBackupArtifacts(artifacts) }
            return ["deleted": .array(artifacts.map { .string($0.name) })]
        default:
            return nil
        }
    }

    static func request(_ args: PrimitiveArguments, environment: PrimitiveEnvironment, artifacts: [BackupArtifact]) throws(PrimitiveError) -> ComponentBackupRequest {
        guard case .int(let id) = args.values["backup_id"] ?? .null else { throw args.missing("backup_id", "the backup's id") }
        let name = try args.string("name", required: "the backup's name on the cluster")
        let componentName = try args.string("component", required: "a component name")
        let component = try Execution(environment: environment).components([componentName])[0]
        guard let strategy = BackupStrategy(of: component), strategy.isBuiltIn else {
            throw PrimitiveError(.badArgument, "component \"\(componentName)\" has no built-in backup strategy")
        }
        return ComponentBackupRequest(backupID: Int64(id), name: name, component: component, strategy: strategy,
                                      volumes: BackupStrategy.volumes(of: component), artifacts: artifacts)
    }

    /// Artifacts as JSON (snake_case keys), for a step's result and the backup record.
    public static func json(_ artifacts: [BackupArtifact]) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(artifacts), let value = try? JSONValue(jsonText: String(decoding: data, as: UTF8.self)) else { return .array([]) }
        return value
    }

    /// Artifacts from their JSON; throws naming what is wrong.
    public static func decodeArtifacts(_ value: JSONValue) throws(PrimitiveError) -> [BackupArtifact] {
        do {
            return try JSONDecoder().decode([BackupArtifact].self, from: Data(value.jsonText.utf8))
        } catch {
            throw PrimitiveError(.badArgument, "the backup's artifacts are not readable: \(error)")
        }
    }
}

extension Execution {
    /// The job mounting the dump volume, running `command` in the component's image with its env.
    func runBackupJob(_ request: ComponentBackupRequest, command: String, volume: JobVolume?, purpose: String) async throws(PrimitiveError) -> JSONValue {
        let arguments: JSONValue = [
            "commands": [.string(command)], "component": .string(request.component.name),
            "env_from_component": .string(request.component.name),
        ]
        let args = try PrimitiveArguments(primitive: "execute_commands", arguments: arguments, known: ["commands", "component", "env_from_component"])
        return try await executeCommands(args, volumes: volume.map { [$0] } ?? [], extraLabels: [
            "flowrunner.io/backup": request.name, "flowrunner.io/backup-job": purpose,
        ])
    }

    /// The host the dump tool connects to: `backup.host`, else the Service in front of the component.
    func databaseHost(_ request: ComponentBackupRequest) async throws(PrimitiveError) -> String {
        if let host = request.component.backup?.options["host"]?.stringValue { return host }
        let found = try await cluster { () async throws(ClusterError) in try await cluster.serviceHost(matching: request.component.labels) }
        return found ?? request.component.name
    }

    func backUp(_ request: ComponentBackupRequest) async throws(PrimitiveError) -> JSONValue {
        let database = BackupStrategy.database(of: request.component)
        var dumped = false
        if request.strategy.dumpsDatabase {
            let volume = try await cluster { () async throws(ClusterError) in try await cluster.prepareDump(request) }
            let host = try await databaseHost(request)
            if let command = request.strategy.dumpCommand(component: request.component.name, database: database, host: host) {
                _ = try await runBackupJob(request, command: command, volume: volume, purpose: "dump")
                dumped = true
            }
        }
        let wasDumped = dumped
        let artifacts = try await cluster { () async throws(ClusterError) in
            try await cluster.snapshotVolumes(request, dumped: wasDumped, timeout: environment.defaultTimeout)
        }
        return [
            "component": .string(request.component.name), "strategy": .string(request.strategy.rawValue),
            "artifacts": PrimitiveCatalogue.json(artifacts),
        ]
    }

    func restore(_ request: ComponentBackupRequest) async throws(PrimitiveError) -> JSONValue {
        guard !request.artifacts.isEmpty else {
            throw PrimitiveError(.badArgument, "backup \(request.backupID) kept nothing of component \"\(request.component.name)\" to restore")
        }
        let volume = try await cluster { () async throws(ClusterError) in
            try await cluster.restoreVolumes(request, timeout: environment.defaultTimeout)
        }
        if request.strategy.dumpsDatabase {
            let host = try await databaseHost(request)
            let database = BackupStrategy.database(of: request.component)
            if let command = request.strategy.restoreCommand(component: request.component.name, database: database, host: host) {
                _ = try await runBackupJob(request, command: command, volume: volume, purpose: "restore")
            }
        }
        try await cluster { () async throws(ClusterError) in try await cluster.finishRestore(request) }
        return [
            "component": .string(request.component.name), "strategy": .string(request.strategy.rawValue),
            "restored": .array(request.artifacts.map { .string($0.name) }),
        ]
    }
}
