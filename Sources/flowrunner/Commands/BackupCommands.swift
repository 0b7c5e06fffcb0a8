import ArgumentParser
import FlowModel
import FlowRunner
import Foundation
import StateStore

/// `flowrunner backup NAME [--detach]`: a run with hook `backup`.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up a deployment: each component's backup strategy, as a run.",
        discussion: "The run is worked in this process unless --detach leaves it to `flowrunner serve`. The backup is completed only when the run succeeds. Exit status: 0 succeeded, 1 the run failed, 2 bad input."
    )

    @Argument(help: "The deployment's name.")
    var name: String

    @Flag(name: .long, help: "Only queue the run; `flowrunner serve` works it.")
    var detach = false

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        try await RunWorker.submit(state: stateOptions, options: runOptions, detach: detach) { (engine) async throws(EngineError) in
            try await engine.requestBackup(deployment: name)
        } run: { $0.run } headline: { "backup \($0.backup.id) of \(name) (\($0.backup.appVersion))" }
    }
}

/// `flowrunner restore NAME --backup ID [--detach]`: a run with hook `restore`.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a deployment from one of its completed backups, as a run.",
        discussion: "Components without a backup are stopped first and started last. Refused while a run of the deployment is queued or in progress. Exit status: 0 succeeded, 1 the run failed, 2 bad input."
    )

    @Argument(help: "The deployment's name.")
    var name: String

    @Option(name: .long, help: "The backup's id (flowrunner backups list).")
    var backup: Int64

    @Flag(name: .long, help: "Only queue the run; `flowrunner serve` works it.")
    var detach = false

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        try await RunWorker.submit(state: stateOptions, options: runOptions, detach: detach) { (engine) async throws(EngineError) in
            try await engine.requestRestore(deployment: name, backupID: backup)
        } run: { $0 } headline: { _ in "restore of \(name) from backup \(backup)" }
    }
}

/// `flowrunner delete NAME [--purge-backups] [--detach]`: a run with hook `delete`.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a deployment: uninstall it and remove what it made, as a run.",
        discussion: "When the run succeeds the deployment is gone from `deployments list`; its runs stay readable and its backups are kept unless --purge-backups. Exit status: 0 succeeded, 1 the run failed, 2 bad input."
    )

    @Argument(help: "The deployment's name.")
    var name: String

    @Flag(name: .customLong("purge-backups"), help: "Delete the deployment's backups too.")
    var purgeBackups = false

    @Flag(name: .long, help: "Only queue the run; `flowrunner serve` works it.")
    var detach = false

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func run() async throws {
        try await RunWorker.submit(state: stateOptions, options: runOptions, detach: detach) { (engine) async throws(EngineError) in
            try await engine.requestDelete(deployment: name, purgeBackups: purgeBackups)
        } run: { $0 } headline: { _ in "delete of \(name)" + (purgeBackups ? " with its backups" : "") }
    }
}

/// `flowrunner backups list|show`.
struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List and show backups.",
        subcommands: [List.self, Show.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List backups, newest first.")

        @Option(name: .long, help: "Only the backups of this deployment (deleted ones' included).")
        var deployment: String?

        @Option(name: .long, help: "text or json.")
        var output: OutputFormat = .text

        @OptionGroup var stateOptions: StateOptions

        func run() async throws {
            let store = try await stateOptions.openForReading()
            let backups: [BackupRecord]
            do {
                backups = try await BackupReport.list(deployment: deployment, store: store)
            } catch {
                throw error.commandFailure
            }
            if output == .json {
                print(JSONValue.array(backups.map(BackupReport.json)).prettyText)
                return
            }
            guard !backups.isEmpty else {
                print(deployment.map { "no backups of \($0)" } ?? "no backups")
                return
            }
            Table.print(["ID", "DEPLOYMENT", "APP VERSION", "STATUS", "SIZE", "CREATED", "RUN"], backups.map { backup in
                [
                    String(backup.id), backup.deployment, backup.appVersion, backup.status.rawValue,
                    backup.status == .completed ? BackupReport.sizeText(BackupReport.sizeBytes(backup)) : "-",
                    TimeText.local(backup.createdAt), backup.runID.map(String.init) ?? "-",
                ]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one backup: its status and each component's artifacts.")

        @Argument(help: "The backup's id.")
        var id: Int64

        @Option(name: .long, help: "text or json.")
        var output: OutputFormat = .text

        @OptionGroup var stateOptions: StateOptions

        func run() async throws {
            let store = try await stateOptions.openForReading()
            let found: BackupRecord?
            do {
                found = try await store.backup(id: id)
            } catch {
                throw error.commandFailure
            }
            guard let backup = found else { throw CommandFailure.badInput("unknown backup \(id) (flowrunner backups list)") }
            if output == .json {
                print(BackupReport.json(backup).prettyText)
                return
            }
            print("backup \(backup.id) of \(backup.deployment): \(backup.status.rawValue)")
            print("  app version  \(backup.appVersion)")
            print("  created      \(TimeText.local(backup.createdAt))")
            if let completed = backup.completedAt { print("  completed    \(TimeText.local(completed))") }
            if let run = backup.runID { print("  run          \(run) (flowrunner runs show \(run))") }
            let components = backup.artifactsJSON.flatMap(JSONValue.init(storedText:))?.objectValue ?? [:]
            for (component, entry) in components.sorted(by: { $0.key < $1.key }) {
                print("  \(component) (\(entry["strategy"]?.stringValue ?? "?"))")
                if let action = entry["action"]?.stringValue { print("    by the driver's action \(action)") }
                for artifact in entry["artifacts"]?.arrayValue ?? [] {
                    let size = artifact["size_bytes"]?.intValue.map { ", " + BackupReport.sizeText($0) } ?? ""
                    print("    \(artifact["kind"]?.stringValue ?? "?") \(artifact["name"]?.stringValue ?? "?")\(size) at \(artifact["location"]?.stringValue ?? "?")")
                }
            }
        }
    }
}
