import Foundation
import Testing

/// Backup, restore and delete through `flowrunner serve` (DESIGN.md "Runner
/// service": `POST /v1/deployments/{name}/backup | /restore`,
/// `DELETE /v1/deployments/{name}`, `GET /v1/backups[?deployment=]`).
@Suite("Runner service: backup, restore, delete")
struct ServeBackupTests {
    @Test("the checklist over HTTP: backup, restore, delete; refusals name their reason and field")
    func cycle() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        #expect(try await serve.request(.POST, "/v1/drivers", json: ["path": BackupCycleTests.myApp]).status == 201)
        let created = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "my-app", "app_version": "0.1.0"])
        #expect(try await serve.waitForRun(try #require(created.runID))["status"] as? String == "succeeded")

        let backup = try await serve.request(.POST, "/v1/deployments/shop/backup", headers: ["Idempotency-Key": "b-1"])
        #expect(backup.status == 202, "\(backup.text)")
        let backupID = try #require((backup.object["backup"] as? [String: Any])?["id"] as? Int)
        #expect(backup.headers.first(name: "Location") == "/v1/runs/\(try #require(backup.runID))")
        let again = try await serve.request(.POST, "/v1/deployments/shop/backup", headers: ["Idempotency-Key": "b-1"])
        #expect(again.runID == backup.runID && (again.object["backup"] as? [String: Any])?["id"] as? Int == backupID, "\(again.text)")
        #expect(try await serve.waitForRun(try #require(backup.runID))["status"] as? String == "succeeded")
        let listed = try await serve.request(.GET, "/v1/backups?deployment=shop").object["backups"] as? [[String: Any]] ?? []
        #expect(listed.count == 1 && listed.first?["status"] as? String == "completed", "\(listed)")
        #expect(try await serve.request(.GET, "/v1/backups/\(backupID)").object["deployment"] as? String == "shop")
        #expect(try await serve.request(.GET, "/v1/backups/77").status == 404)
        #expect(try await serve.request(.GET, "/v1/backups/x").error["field"] as? String == "id")

        for (body, status, field) in [
            (["backup_id": 77] as [String: Any], 404, "backup_id"), (["backup_id": "one"], 400, "backup_id"),
            ([:], 400, "backup_id"), (["backup_id": 1, "extra": true], 400, "extra"),
        ] {
            let refused = try await serve.request(.POST, "/v1/deployments/shop/restore", json: body)
            #expect(refused.status == status && refused.error["field"] as? String == field, "\(body): \(refused.text)")
        }
        let restore = try await serve.request(.POST, "/v1/deployments/shop/restore", json: ["backup_id": backupID])
        #expect(restore.status == 202, "\(restore.text)")
        let busy = try await serve.request(.POST, "/v1/deployments/shop/restore", json: ["backup_id": backupID])
        let restored = try await serve.waitForRun(try #require(restore.runID))
        #expect(restored["status"] as? String == "succeeded", "\(restored)")
        #expect(busy.status == 409 || busy.status == 202, "\(busy.text)")
        if busy.status == 202 { _ = try await serve.waitForRun(try #require(busy.runID)) }

        #expect(try await serve.request(.DELETE, "/v1/deployments/shop?purge_backups=maybe").error["field"] as? String == "purge_backups")
        let deleted = try await serve.request(.DELETE, "/v1/deployments/shop")
        #expect(deleted.status == 202, "\(deleted.text)")
        #expect(try await serve.waitForRun(try #require(deleted.runID))["status"] as? String == "succeeded")
        #expect(try await serve.request(.GET, "/v1/deployments/shop").status == 404)
        let runs = try await serve.request(.GET, "/v1/runs?deployment=shop")
        #expect(runs.status == 200 && (runs.object["runs"] as? [Any])?.count ?? 0 >= 4, "\(runs.text)")
        #expect((try await serve.request(.GET, "/v1/backups").object["backups"] as? [Any])?.count == 1, "kept without purge_backups")
        #expect(try await serve.request(.DELETE, "/v1/deployments/shop").status == 404)
        #expect(try await serve.request(.POST, "/v1/deployments/shop/hooks/backup", json: [:] as [String: Any]).error["message"]
            .map { "\($0)".contains("POST /v1/deployments/shop/backup") } == true)
    }

    @Test("restores and deletes fired at once: one is accepted, the others are refused with 409; nothing runs on a deleted deployment")
    func concurrentRequests() async throws {
        let workspace = Workspace()
        // The accepted restore's job runs long enough that every request comes while it is in progress, however slow the machine.
        let slow = workspace.directory + "/slow-restore.yaml"
        try "commands:\n  - match: \"*pg_restore*\"\n    duration: 600\n".write(toFile: slow, atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(workspace, arguments: ["--workers", "1", "--fixture", slow])
        #expect(try await serve.request(.POST, "/v1/drivers", json: ["path": BackupCycleTests.myApp]).status == 201)
        let created = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "my-app", "app_version": "0.1.0"])
        _ = try await serve.waitForRun(try #require(created.runID))
        let backup = try await serve.request(.POST, "/v1/deployments/shop/backup")
        _ = try await serve.waitForRun(try #require(backup.runID))

        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                group.addTask {
                    index < 8 ? try await serve.request(.POST, "/v1/deployments/shop/restore", json: ["backup_id": 1]).status
                        : try await serve.request(.DELETE, "/v1/deployments/shop").status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 202 }.count == 1 && statuses.filter { $0 == 409 }.count == 11, "\(statuses.sorted())")
    }

    @Test("a repeated DELETE with its Idempotency-Key answers the same run after the deployment is gone; a new deployment of the name has no keys")
    func keysAroundDelete() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        #expect(try await serve.request(.POST, "/v1/drivers", json: ["path": BackupCycleTests.myApp]).status == 201)
        let body: [String: Any] = ["name": "shop", "driver": "my-app", "app_version": "0.1.0"]
        _ = try await serve.waitForRun(try #require(try await serve.request(.POST, "/v1/deployments", json: body).runID))
        let backup = try await serve.request(.POST, "/v1/deployments/shop/backup", headers: ["Idempotency-Key": "b"])
        _ = try await serve.waitForRun(try #require(backup.runID))
        let deleted = try await serve.request(.DELETE, "/v1/deployments/shop", headers: ["Idempotency-Key": "d"])
        _ = try await serve.waitForRun(try #require(deleted.runID))
        let repeated = try await serve.request(.DELETE, "/v1/deployments/shop", headers: ["Idempotency-Key": "d"])
        #expect(repeated.status == 202 && repeated.runID == deleted.runID, "\(repeated.text)")

        _ = try await serve.waitForRun(try #require(try await serve.request(.POST, "/v1/deployments", json: body).runID))
        let fresh = try await serve.request(.POST, "/v1/deployments/shop/backup", headers: ["Idempotency-Key": "b"])
        #expect(fresh.status == 202 && fresh.runID != backup.runID, "the new shop's backup is a new one: \(fresh.text)")
        #expect((fresh.object["backup"] as? [String: Any])?["id"] as? Int == 2)
        #expect(try await serve.request(.POST, "/v1/deployments/shop/backup", json: ["full": true]).error["field"] as? String == "full")
    }
}
