import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: backups and deleted deployments")
struct BackupConformance {
    func backupRun(_ deployment: DeploymentRecord, key: String? = nil) -> NewRun {
        NewRun(deploymentID: deployment.id, hook: .backup, inputsJSON: #"{"current_version":"0.1.0"}"#, contextJSON: "{}",
               driverVersionID: deployment.driverVersionID, idempotencyKey: key)
    }

    @Test("a backup is made with its run, names itself in the run's inputs, and is completed only by its artifacts", arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let app = try await store.makeDeployment("app")
            let (backup, run) = try await store.createBackup(NewBackup(deploymentID: app.id, appVersion: "0.1.0"), run: backupRun(app))
            #expect(backup.id == 1 && backup.runID == run.id && backup.deployment == "app" && backup.appVersion == "0.1.0")
            #expect(backup.status == .running && backup.completedAt == nil && backup.artifactsJSON == nil)
            #expect(run.hook == .backup && run.status == .queued)
            #expect(JSONValue(storedText: run.inputsJSON)?["backup_id"]?.intValue == 1)
            #expect(JSONValue(storedText: run.inputsJSON)?["current_version"]?.stringValue == "0.1.0", "the other inputs stay")
            #expect(try await store.backup(runID: run.id) == backup)

            _ = try await store.claim("w")
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"dump failed"}"#)
            #expect(try await store.backup(id: backup.id)?.status == .failed, "a failed run leaves its backup failed, never completed")

            try await store.completeBackup(id: backup.id, artifactsJSON: #"{"db":{"strategy":"postgres","artifacts":[]}}"#)
            let completed = try #require(try await store.backup(id: backup.id))
            #expect(completed.status == .completed && completed.completedAt == conformanceEpoch)
            #expect(completed.artifactsJSON == #"{"db":{"strategy":"postgres","artifacts":[]}}"#)
            await #expect { try await store.completeBackup(id: 99, artifactsJSON: "{}") } throws: { ($0 as? StateStoreError)?.code == .notFound }
        }
    }

    @Test("backups list newest first, by deployment name; an idempotency key returns the same backup", arguments: StoreKind.allCases)
    func listingAndKeys(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let a = try await store.makeDeployment("a"), b = try await store.makeDeployment("b")
            let first = try await store.createBackup(NewBackup(deploymentID: a.id, appVersion: "0.1.0"), run: backupRun(a, key: "k"))
            let again = try await store.createBackup(NewBackup(deploymentID: a.id, appVersion: "0.1.0"), run: backupRun(a, key: "k"))
            #expect(again.backup.id == first.backup.id && again.run.id == first.run.id)
            _ = try await store.createBackup(NewBackup(deploymentID: b.id, appVersion: "0.1.0"), run: backupRun(b))
            let third = try await store.createBackup(NewBackup(deploymentID: a.id, appVersion: "0.1.0"), run: backupRun(a))
            #expect(try await store.backups(deployment: nil).map(\.id) == [3, 2, 1])
            #expect(try await store.backups(deployment: "a").map(\.id) == [third.backup.id, first.backup.id])
            #expect(try await store.backups(deployment: "nobody").isEmpty)

            try await store.deleteBackups(ids: [third.backup.id, 42])
            #expect(try await store.backups(deployment: "a").map(\.id) == [first.backup.id])
            let fourth = try await store.createBackup(NewBackup(deploymentID: a.id, appVersion: "0.1.0"), run: backupRun(a))
            #expect(fourth.backup.id == 4, "a deleted backup's id is never given again (it names objects on clusters)")
        }
    }

    @Test("a deleted deployment leaves the lists and frees its name; its runs and backups stay readable", arguments: StoreKind.allCases)
    func deletedDeployment(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let old = try await store.makeDeployment("app")
            let run = try await store.makeRun(old)
            let (backup, backupRun) = try await store.createBackup(NewBackup(deploymentID: old.id, appVersion: "0.1.0"), run: backupRun(old))
            try await store.markDeploymentDeleted(id: old.id)
            try await store.markDeploymentDeleted(id: old.id)
            #expect(try await store.deployment(named: "app") == nil)
            #expect(try await store.deployments().isEmpty)
            let gone = try #require(try await store.deployment(id: old.id))
            #expect(gone.deletedAt == conformanceEpoch && gone.name == "app")
            #expect(try await store.run(id: run.id)?.deployment == "app")

            let new = try await store.makeDeployment("app")
            #expect(new.id != old.id && new.deletedAt == nil)
            #expect(try await store.deployment(named: "app")?.id == new.id)
            #expect(try await store.deployments().map(\.id) == [new.id])
            let newRun = try await store.makeRun(new)
            #expect(Set(try await store.runs(matching: RunFilter(deployment: "app")).map(\.id)) == [run.id, backupRun.id, newRun.id], "runs list by name, deleted ones' too")
            #expect(try await store.backups(deployment: "app").map(\.id) == [backup.id])
            await #expect { try await store.makeDeployment("app") } throws: { ($0 as? StateStoreError)?.code == .alreadyExists }
            await #expect { try await store.markDeploymentDeleted(id: 999) } throws: { ($0 as? StateStoreError)?.code == .notFound }
        }
    }

    @Test("pruning a backup's run keeps the backup", arguments: StoreKind.allCases)
    func pruneKeepsBackups(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let app = try await store.makeDeployment("app")
            let (backup, run) = try await store.createBackup(NewBackup(deploymentID: app.id, appVersion: "0.1.0"), run: backupRun(app))
            _ = try await store.claim("w")
            try await store.completeBackup(id: backup.id, artifactsJSON: "{}")
            try await store.changeRunStatus(id: run.id, to: .succeeded)
            time.advance(by: 3600)
            #expect(try await store.pruneRuns(endedBefore: conformanceEpoch.addingTimeInterval(60)) == 1)
            let kept = try #require(try await store.backup(id: backup.id))
            #expect(kept.runID == nil && kept.status == .completed)
        }
    }
}

@Suite("Conformance: which runs a deployment takes")
struct RunAdmissionConformance {
    func run(_ deployment: DeploymentRecord, _ hook: Hook, exclusive: Bool = false, key: String? = nil) -> NewRun {
        var new = NewRun(deploymentID: deployment.id, hook: hook, inputsJSON: "{}", contextJSON: "{}", driverVersionID: deployment.driverVersionID,
                         idempotencyKey: key)
        new.exclusive = exclusive
        return new
    }

    @Test("an exclusive run waits for nothing: refused while another is queued; nothing follows a delete; a deleted deployment takes none",
          arguments: StoreKind.allCases)
    func admission(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let app = try await store.makeDeployment("app")
            let upgrade = try await store.createRun(run(app, .upgrade)).record
            await #expect { try await store.createRun(run(app, .restore, exclusive: true)) } throws: { error in
                (error as? StateStoreError)?.code == .illegalTransition && "\(error)".contains("run \(upgrade.id) (upgrade, queued)")
            }
            _ = try await store.claim("w")
            try await store.changeRunStatus(id: upgrade.id, to: .succeeded)
            let delete = try await store.createRun(run(app, .delete, exclusive: true, key: "k")).record
            #expect(try await store.createRun(run(app, .delete, exclusive: true, key: "k")).record.id == delete.id, "a repeated key is answered first")
            for hook in [Hook.upgrade, .backup] {
                await #expect { try await store.createRun(run(app, hook)) } throws: { "\($0)".contains("being deleted by run \(delete.id)") }
            }
            await #expect {
                try await store.createBackup(NewBackup(deploymentID: app.id, appVersion: "0.1.0"), run: run(app, .backup))
            } throws: { ($0 as? StateStoreError)?.code == .illegalTransition }
            #expect(try await store.backups(deployment: nil).isEmpty, "a refused backup records nothing")
            _ = try await store.claim("w")
            try await store.changeRunStatus(id: delete.id, to: .succeeded)
            try await store.markDeploymentDeleted(id: app.id)
            await #expect { try await store.createRun(run(app, .upgrade)) } throws: { "\($0)".contains("was deleted") }
        }
    }

    @Test("a backup not completed takes a new app version; a completed one keeps its own", arguments: StoreKind.allCases)
    func refreezeBackup(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let app = try await store.makeDeployment("app")
            let backup = try await store.createBackup(NewBackup(deploymentID: app.id, appVersion: "0.1.0"), run: run(app, .backup)).backup
            try await store.refreezeBackup(id: backup.id, appVersion: "0.2.0")
            #expect(try await store.backup(id: backup.id)?.appVersion == "0.2.0")
            try await store.completeBackup(id: backup.id, artifactsJSON: "{}")
            await #expect { try await store.refreezeBackup(id: backup.id, appVersion: "0.3.0") } throws: {
                ($0 as? StateStoreError)?.code == .illegalTransition
            }
            await #expect { try await store.refreezeBackup(id: 99, appVersion: "0.3.0") } throws: { ($0 as? StateStoreError)?.code == .notFound }
        }
    }
}
