import Foundation
import Testing

/// The guide's validation checklist on the simulated cluster, with the real
/// binary: deploy → backup → restore → upgrade → delete (DESIGN.md "Backup,
/// restore, delete"), for the seed my-app (`kind: postgres`) and for
/// backup-app (`kind: action` beside `kind: postgres`).
@Suite("Backup, restore and delete on the simulated cluster")
struct BackupCycleTests {
    static let myApp = FlowRunnerBinary.repository + "/actions-examples/my-app"
    static let backupApp = FlowRunnerBinary.repository + "/actions-examples/backup-app"

    /// The names of the steps of `action` in run `run`'s report.
    static func steps(_ report: [String: Any], action: String) -> [String] {
        let actions = report["actions"] as? [[String: Any]] ?? []
        return (actions.first { $0["name"] as? String == action }?["steps"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    static func actions(_ report: [String: Any]) -> [String] {
        (report["actions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    static func dataRevision(_ workspace: Workspace, _ deployment: String, component: String) async throws -> Int? {
        let shown = try await workspace.json(["deployments", "show", deployment, "--output", "json"]) as? [String: Any]
        let workloads = (shown?["cluster"] as? [String: Any])?["workloads"] as? [[String: Any]] ?? []
        return workloads.first { $0["component"] as? String == component }?["data_revision"] as? Int
    }

    static func backups(_ workspace: Workspace, _ arguments: [String] = []) async throws -> [[String: Any]] {
        try await workspace.json(["backups", "list", "--output", "json"] + arguments) as? [[String: Any]] ?? []
    }

    @Test("my-app: deploy, backup, restore, upgrade, delete; each step visible in runs show")
    func myAppCycle() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", Self.myApp])
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)

        let backedUp = try await workspace.run(["backup", "shop"])
        #expect(backedUp.status == 0, "\(backedUp.stdout)\(backedUp.stderr)")
        let listed = try await Self.backups(workspace)
        #expect(listed.count == 1 && listed.first?["status"] as? String == "completed", "\(listed)")
        #expect(listed.first?["app_version"] as? String == "0.1.0" && listed.first?["run_id"] as? Int == 2)
        let database = (listed.first?["components"] as? [String: Any])?["database"] as? [String: Any]
        #expect(database?["strategy"] as? String == "postgres")
        let kinds = (database?["artifacts"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds == ["dump", "volume_snapshot"], "\(String(describing: database))")
        let backupRun = try await workspace.runShow(2)
        #expect(Self.steps(backupRun, action: "builtin-backup") == ["backup_component"], "\(backupRun)")
        #expect((backupRun["inputs"] as? [String: Any])?["backup_id"] as? Int == 1)

        // The data changes after the backup (a job with the database's env: a migration, say); the restore puts it back.
        #expect(try await Self.dataRevision(workspace, "shop", component: "database") == 1)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.1.1"]).status == 0)
        #expect(try await Self.dataRevision(workspace, "shop", component: "database") == 2)
        let wrongVersion = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(wrongVersion.status == 2 && wrongVersion.stderr.contains("taken at app version 0.1.0"), "\(wrongVersion.stderr)")
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.1.0"]).status == 0)
        #expect(try await Self.dataRevision(workspace, "shop", component: "database") == 3)

        let restored = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(restored.status == 0, "\(restored.stdout)\(restored.stderr)")
        #expect(try await Self.dataRevision(workspace, "shop", component: "database") == 1)
        let restoreRun = try await workspace.runShow(5)
        #expect(Self.actions(restoreRun) == ["builtin-restore", "builtin-start"], "\(restoreRun)")
        #expect(Self.steps(restoreRun, action: "builtin-restore") == ["stop_components", "restore_component"])
        #expect(Self.steps(restoreRun, action: "builtin-start") == ["start_components"])

        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)

        let deleted = try await workspace.run(["delete", "shop"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        let list = try await workspace.json(["deployments", "list", "--output", "json"]) as? [Any]
        #expect(list?.isEmpty == true)
        let deleteRun = try await workspace.runShow(7)
        #expect(deleteRun["status"] as? String == "succeeded" && Self.steps(deleteRun, action: "builtin-uninstall") == ["uninstall_deployment"])
        let runs = try await workspace.run(["runs", "list", "--deployment", "shop"])
        #expect(runs.status == 0 && runs.stdout.contains("delete"), "a deleted deployment's runs stay readable: \(runs.stderr)")
        #expect(try await Self.backups(workspace).count == 1, "backups are kept unless --purge-backups")
        let gone = try await workspace.run(["upgrade", "shop", "--to", "0.2.1"])
        #expect(gone.status == 2 && gone.stderr.contains("unknown deployment"), "\(gone.stderr)")

        // The name is free again, and the simulated cluster starts empty for it.
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        let releases = try await AppliedValuesTests.releases(workspace, "shop")
        #expect(releases.count == 1, "\(releases)")
        // Backups belong to the name: the new shop restores its predecessor's, and a purge takes them.
        let shown = try await workspace.json(["deployments", "show", "shop", "--output", "json"]) as? [String: Any]
        #expect((shown?["backups"] as? [Any])?.count == 1 && (shown?["runs"] as? [Any])?.count == 1, "\(shown ?? [:])")
        let again = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let purge = try await workspace.run(["delete", "shop", "--purge-backups"])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(try await Self.backups(workspace).isEmpty, "--purge-backups removes every backup of the name")
    }

    @Test("backup-app: a kind action component is backed up and restored by the driver's actions, beside a postgres one")
    func actionStrategyCycle() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", Self.backupApp])
        let deployed = try await workspace.run(["deploy", "docs", "--driver", "backup-app", "--app-version", "1.6.0"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        let backedUp = try await workspace.run(["backup", "docs"])
        #expect(backedUp.status == 0, "\(backedUp.stdout)\(backedUp.stderr)")
        let backupRun = try await workspace.runShow(2)
        #expect(Self.actions(backupRun) == ["builtin-backup", "backup-database"], "\(backupRun)")
        #expect(Self.steps(backupRun, action: "backup-database").contains("execute_commands"))
        let components = try await Self.backups(workspace).first?["components"] as? [String: Any]
        #expect((components?["database"] as? [String: Any])?["strategy"] as? String == "action")
        #expect((components?["database"] as? [String: Any])?["action"] as? String == "backup-database")
        #expect((components?["audit-db"] as? [String: Any])?["strategy"] as? String == "postgres")

        let restored = try await workspace.run(["restore", "docs", "--backup", "1"])
        #expect(restored.status == 0, "\(restored.stdout)\(restored.stderr)")
        let restoreRun = try await workspace.runShow(3)
        #expect(Self.actions(restoreRun) == ["builtin-restore", "restore-database", "builtin-start"], "\(restoreRun)")
        let commands = ((restoreRun["actions"] as? [[String: Any]])?.first { $0["name"] as? String == "restore-database" }?["steps"] as? [[String: Any]] ?? [])
            .compactMap { ($0["args"] as? [String: Any])?["commands"] as? [String] }.flatMap { $0 }
        #expect(commands.contains { $0.contains("docs-b1.sql") }, "the action restores the dump of backup 1: \(commands)")

        #expect(try await workspace.run(["upgrade", "docs", "--to", "1.7.0"]).status == 0)
        #expect(try await workspace.run(["delete", "docs", "--purge-backups"]).status == 0)
        #expect(try await Self.backups(workspace).isEmpty, "--purge-backups removes the deployment's backups")
        let purgeRun = try await workspace.runShow(5)
        #expect(Self.actions(purgeRun) == ["builtin-uninstall", "builtin-purge-backups"], "\(purgeRun)")
        #expect(Self.steps(purgeRun, action: "builtin-purge-backups") == ["delete_backup_artifacts"])
    }

    @Test("a failed dump leaves no completed backup; a retry after the cause is gone completes the same backup")
    func failedDump() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", Self.myApp])
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        let fixture = workspace.directory + "/dump-fails.yaml"
        try "components:\n  database:\n    dump_fails: \"pg_dump: error: connection refused\"\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let failed = try await workspace.run(["backup", "shop", "--fixture", fixture])
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stdout.contains("pg_dump: error: connection refused") || failed.stderr.contains("pg_dump: error: connection refused"))
        var listed = try await Self.backups(workspace)
        #expect(listed.first?["status"] as? String == "failed" && (listed.first?["components"] as? [String: Any])?.isEmpty == true, "\(listed)")
        let refused = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(refused.status == 2 && refused.stderr.contains("backup 1 is failed"), "\(refused.stderr)")

        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        listed = try await Self.backups(workspace)
        #expect(listed.count == 1 && listed.first?["status"] as? String == "completed", "\(listed)")
    }

    @Test("restores of another deployment's backup, of an unknown id or during a run are refused with the reason; nothing is queued")
    func refusals() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", Self.myApp])
        for name in ["a", "b"] {
            #expect(try await workspace.run(["deploy", name, "--driver", "my-app", "--app-version", "0.1.0"]).status == 0)
        }
        #expect(try await workspace.run(["backup", "a"]).status == 0)
        let other = try await workspace.run(["restore", "b", "--backup", "1"])
        #expect(other.status == 2 && other.stderr.contains("backup 1 is of deployment a (driver my-app), not of b"), "\(other.stderr)")
        let unknown = try await workspace.run(["restore", "a", "--backup", "42"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown backup 42"), "\(unknown.stderr)")
        let queued = try await workspace.run(["upgrade", "a", "--to", "0.2.0", "--detach"])
        #expect(queued.status == 0)
        let busy = try await workspace.run(["restore", "a", "--backup", "1"])
        #expect(busy.status == 2 && busy.stderr.contains("queued or in progress"), "\(busy.stderr)")
        let deleteBusy = try await workspace.run(["delete", "a"])
        #expect(deleteBusy.status == 2 && deleteBusy.stderr.contains("queued or in progress"), "\(deleteBusy.stderr)")
        let runs = try await workspace.json(["runs", "list", "--deployment", "a", "--output", "json"]) as? [[String: Any]] ?? []
        #expect(runs.compactMap { $0["hook"] as? String } == ["upgrade", "backup", "setup"], "a refusal queues nothing: \(runs)")
        let noDriverBackup = try await workspace.run(["backup", "nobody"])
        #expect(noDriverBackup.status == 2 && noDriverBackup.stderr.contains("unknown deployment"))
    }
}
