import Foundation
import Testing

/// What a backup or restore finds when it starts, or is retried, after the
/// deployment changed: each is checked again, as its request was.
@Suite("Backup and restore against a deployment that changed")
struct BackupRaceTests {
    static func fixture(_ workspace: Workspace, _ name: String, _ text: String) throws -> String {
        let path = workspace.directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func deployShop(_ workspace: Workspace) async throws {
        try await workspace.run(["drivers", "load", BackupCycleTests.myApp])
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"])
        #expect(deployed.status == 0, "\(deployed.stderr)")
    }

    @Test("a backup retried after the deployment moved to another version fails saying why; the backup stays failed")
    func retryAfterVersionChange() async throws {
        let workspace = Workspace()
        try await Self.deployShop(workspace)
        let fails = try Self.fixture(workspace, "fail.yaml", "components:\n  database:\n    dump_fails: boom\n")
        #expect(try await workspace.run(["backup", "shop", "--fixture", fails]).status == 1)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 1, "\(retried.stdout)")
        #expect(try await workspace.runShow(2)["error"].map { "\($0)" }?.contains("went from 0.1.0 to 0.2.0 since backup 1 began") == true)
        let listed = try await BackupCycleTests.backups(workspace)
        #expect(listed.first?["status"] as? String == "failed" && listed.first?["app_version"] as? String == "0.1.0", "\(listed)")
    }

    @Test("a backup that waited behind an upgrade is taken at the version the deployment runs when it starts")
    func waitingBackupRefrozen() async throws {
        let workspace = Workspace()
        try await Self.deployShop(workspace)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0", "--detach"]).status == 0)
        #expect(try await workspace.run(["backup", "shop", "--detach"]).status == 0)
        #expect(try await workspace.run(["runs", "retry", "2"]).status == 0, "works the queued upgrade")
        #expect(try await workspace.run(["runs", "retry", "3"]).status == 0, "works the queued backup")
        let listed = try await BackupCycleTests.backups(workspace)
        #expect(listed.first?["status"] as? String == "completed" && listed.first?["app_version"] as? String == "0.2.0", "\(listed)")
        let inputs = try await workspace.runShow(3)["inputs"] as? [String: Any]
        #expect(inputs?["current_version"] as? String == "0.2.0" && inputs?["backup_id"] as? Int == 1, "\(inputs ?? [:])")
        #expect(try await workspace.run(["restore", "shop", "--backup", "1"]).status == 0)
    }

    @Test("a restore retried after the deployment moved to another version fails saying why, and changes nothing")
    func restoreRetryRechecked() async throws {
        let workspace = Workspace()
        try await Self.deployShop(workspace)
        #expect(try await workspace.run(["backup", "shop"]).status == 0)
        let fails = try Self.fixture(workspace, "restore.yaml", "components:\n  database:\n    restore_fails: nope\n")
        #expect(try await workspace.run(["restore", "shop", "--backup", "1", "--fixture", fails]).status == 1)
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.2.0"]).status == 0)
        let before = try await BackupCycleTests.dataRevision(workspace, "shop", component: "database")
        #expect(try await workspace.run(["runs", "retry", "3"]).status == 1)
        #expect(try await workspace.runShow(3)["error"].map { "\($0)" }?.contains("was taken at app version 0.1.0") == true)
        #expect(try await BackupCycleTests.dataRevision(workspace, "shop", component: "database") == before)
    }

    @Test("a deployment whose setup failed is not backed up or restored; its delete is accepted")
    func notInstalled() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", BackupCycleTests.myApp])
        let never = try Self.fixture(workspace, "never.yaml", "components:\n  server:\n    never_ready: true\n")
        #expect(try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--fixture", never, "--timeout", "5"]).status == 1)
        let refused = try await workspace.run(["backup", "shop"])
        #expect(refused.status == 2 && refused.stderr.contains("is not installed (its setup run 1 failed)"), "\(refused.stderr)")
        let deleted = try await workspace.run(["delete", "shop"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
    }

    @Test("a restore of a backup that no longer fits the driver version the deployment runs is refused")
    func driverChanged() async throws {
        let workspace = Workspace()
        try await Self.deployShop(workspace)
        #expect(try await workspace.run(["backup", "shop"]).status == 0)
        let changed = workspace.directory + "/my-app-v2"
        try FileManager.default.copyItem(atPath: BackupCycleTests.myApp, toPath: changed)
        let spec = changed + "/driver.styrmin.yml"
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        let serverBlock = "          app.kubernetes.io/name: my-app\n"
        #expect(text.contains(serverBlock), "the seed's server labels moved; adjust this test")
        try text.replacingOccurrences(of: serverBlock, with: serverBlock + "      backup: {kind: disk}\n")
            .replacingOccurrences(of: "version: \"1\"", with: "version: \"2\"").write(toFile: spec, atomically: true, encoding: .utf8)
        let loaded = try await workspace.run(["drivers", "load", changed])
        #expect(loaded.status == 0, "\(loaded.stdout)\(loaded.stderr)")
        #expect(try await workspace.run(["upgrade", "shop", "--to", "0.1.0", "--driver-version", "latest"]).status == 0)
        let refused = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(refused.status == 2 && refused.stderr.contains("component server is backed up by disk now, but the backup kept nothing of it"), "\(refused.stderr)")
    }
}
