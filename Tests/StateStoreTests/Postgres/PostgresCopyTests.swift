import FlowModel
import Foundation
import PostgresStateStore
@testable import StateStore
import Testing

@Suite("PostgreSQL store: copying a SQLite state file", .enabled(if: PostgresTestServer.isConfigured))
struct PostgresCopyTests {
    /// Everything the protocol reads back, for comparing two stores.
    func contents(of store: any StateStore) async throws -> [AnyHashable] {
        var contents: [AnyHashable] = [
            try await store.driverVersions(), try await store.deployments(), try await store.runs(matching: RunFilter(limit: 1000)),
            try await store.clusters(), try await store.backups(deployment: nil),
        ]
        for id in RecordID(1)...12 {
            contents.append(try await store.driverFiles(versionID: id))
            contents.append(try await store.deployment(id: id))
            contents.append(try await store.actionRuns(runID: id))
            contents.append(try await store.steps(actionRunID: id))
            contents.append(try await store.logs(runID: id))
            contents.append(try await store.webhookDeliveries(runID: id))
        }
        for name in ["a", "b"] {
            contents.append(try await store.simulatedClusterState(deployment: name))
            contents.append(try await store.simulatedJobs(deployment: name))
        }
        return contents
    }

    @Test("every record comes across with its ids; new ids continue after the largest, and deleted backups' ids stay unused")
    func copiesEverything() async throws {
        let time = ManualTime(conformanceEpoch)
        let scratch = ScratchDatabase()
        let sqlite = try scratch.open(clock: .manual(time))
        let files = [StoredDriverFile(path: "driver.styrmin.yml", contents: Array("kind: x".utf8)), StoredDriverFile(path: "bin", contents: [0, 255, 1])]
        _ = try await sqlite.storeDriverVersion(driver: "drv", specVersion: "1", digest: "d", files: files, sourceDirectory: "/src")
        let a = try await sqlite.makeDeployment("a"), b = try await sqlite.makeDeployment("b")
        _ = try await sqlite.createCluster(NewCluster(name: "prod", kind: .kubernetes, kubeconfig: "/k", context: nil, inCluster: false, configJSON: "{}"))
        let webhook = try await sqlite.registerWebhook(url: "http://127.0.0.1:9/hook")
        let first = try await sqlite.makeRun(a)
        let actions = try await sqlite.planActionRuns(runID: first.id, actions: [("upgrade", .core), ("smoke", .post)])
        _ = try await sqlite.claim("w")
        try await sqlite.changeActionRunStatus(id: actions[0].id, to: .running, errorJSON: nil, isolation: "user nobody")
        let step = try await sqlite.begin(actions[0].id, seq: 1)
        try await sqlite.finishStep(id: step, status: .succeeded, resultJSON: #"{"ok":true}"#, errorJSON: nil)
        try await sqlite.appendLogs([NewLogLine(runID: first.id, action: "upgrade", attempt: 1, time: time.now, level: .info, logger: "stdout", message: "hello")])
        time.advance(by: 3)
        try await sqlite.changeRunStatus(id: first.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
        _ = try await sqlite.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10)
        try await sqlite.saveSimulatedClusterState(deployment: "a", stateJSON: #"{"v":1}"#, upsertJobs: [("j", "{}")], deleteJobs: [])
        let backupRun = NewRun(deploymentID: b.id, hook: .backup, inputsJSON: "{}", contextJSON: "{}", driverVersionID: b.driverVersionID)
        let kept = try await sqlite.createBackup(NewBackup(deploymentID: b.id, appVersion: "0.1.0"), run: backupRun)
        var secondRun = backupRun
        secondRun.idempotencyKey = "k"
        let deleted = try await sqlite.createBackup(NewBackup(deploymentID: b.id, appVersion: "0.1.0"), run: secondRun)
        try await sqlite.deleteBackups(ids: [deleted.backup.id])
        _ = try await sqlite.makeRun(a, notBefore: time.now.addingTimeInterval(60))

        try await PostgresTestDatabase.with { database in
            let postgres = try await PostgresStateStore.open(url: database.url, clock: .manual(time))
            do {
                let copied = try await postgres.copy(from: sqlite)
                #expect(copied["runs"] == 4 && copied["steps"] == 1 && copied["logs"] == 1 && copied["webhook_deliveries"] == 1)
                let expected = try await contents(of: sqlite)
                let actual = try await contents(of: postgres)
                #expect(actual == expected)
                #expect(try await postgres.makeRun(a).id == 5)
                let next = try await postgres.createBackup(NewBackup(deploymentID: b.id, appVersion: "0.2.0"), run: backupRun)
                #expect(next.backup.id == deleted.backup.id + 1, "the deleted backup's id is not given again")
                #expect(kept.backup.id < deleted.backup.id)
                let again = await #expect(throws: StateStoreError.self) { try await postgres.copy(from: sqlite) }
                #expect(again?.code == .alreadyExists)
            } catch {
                await postgres.close()
                throw error
            }
            await postgres.close()
        }
        withExtendedLifetime(scratch) {}
    }
}
