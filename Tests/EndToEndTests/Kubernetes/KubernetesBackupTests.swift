import Foundation
import Testing

/// The guide's checklist on a Kubernetes cluster (the test API server, its
/// simulated Velero): deploy → backup → restore → upgrade → delete, with the
/// real binary, and a Velero Backup that fails.
@Suite("Kubernetes: backup, restore and delete through Velero")
struct KubernetesBackupTests {
    /// my-app's chart with what a database chart has besides its StatefulSet:
    /// a Service in front of its pods and a claim per pod.
    static var chart: [String: Any] {
        ["my-app": [
            ["kind": "Deployment", "name": "{release}-server",
             "labels": ["app.kubernetes.io/name": "my-app", "app.kubernetes.io/instance": "{release}"],
             "image": "{values.image.repository}:{values.image.tag}", "containerName": "my-app",
             "command": "{values.command|}", "args": "{values.args|}", "env": "{values.extraEnv|}"],
            ["kind": "StatefulSet", "name": "{release}-postgresql", "serviceName": "{release}-postgresql",
             "labels": ["app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "{release}"],
             "image": "postgres:16", "containerName": "postgresql", "service": "{release}-postgresql",
             "volumeClaimTemplates": [["metadata": ["name": "data"],
                                       "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]]]]],
        ] as [Any]]
    }

    /// A workspace with the test API server (Velero's namespace made) as cluster `lab`, my-app loaded and deployed as `shop`.
    static func deployedShop(_ workspace: Workspace) async throws -> KubeTestServerProcess {
        let server = try await KubeTestServerProcess(directory: workspace.directory, charts: chart)
        try await server.admin(.POST, "/_test/objects", json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "velero"]])
        let added = try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig] + KubernetesHookTests.config)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try await workspace.run(["drivers", "load", RenderTests.myApp]).status == 0)
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")
        return server
    }

    static func name(_ object: [String: Any]) -> String { (object["metadata"] as? [String: Any])?["name"] as? String ?? "" }
    static func phase(_ object: [String: Any]?) -> String? { (object?["status"] as? [String: Any])?["phase"] as? String }

    func backups(_ workspace: Workspace) async throws -> [[String: Any]] {
        try await workspace.json(["backups", "list", "--deployment", "shop", "--output", "json"]) as? [[String: Any]] ?? []
    }

    func artifacts(_ backup: [String: Any]?) -> [[String: Any]] {
        (((backup?["components"] as? [String: Any])?["database"] as? [String: Any])?["artifacts"] as? [[String: Any]]) ?? []
    }

    @Test("deploy, back up, restore, upgrade and delete: a dump job on a claim of its own, a Velero Backup and Restore, then the namespace gone")
    func checklist() async throws {
        let workspace = Workspace()
        let server = try await Self.deployedShop(workspace)

        let backedUp = try await workspace.run(["backup", "shop"])
        #expect(backedUp.status == 0, "\(backedUp.stdout)\(backedUp.stderr)")
        let listed = try await backups(workspace)
        #expect(listed.count == 1 && listed.first?["status"] as? String == "completed", "\(listed)")
        let kept = artifacts(listed.first)
        #expect(kept.map { $0["kind"] as? String } == ["dump", "volume_snapshot"], "\(kept)")
        #expect(kept.last?["name"] as? String == "fr-b1-database")
        #expect(kept.allSatisfy { $0["location"] as? String == "velero.io/v1 Backup velero/fr-b1-database" }, "\(kept)")

        // The Velero Backup: the namespace's claims of the database and of the dump, with snapshots.
        let veleroBackups = try await server.objects("Backup", namespace: "velero")
        #expect(veleroBackups.map(Self.name) == ["fr-b1-database"])
        let spec = veleroBackups.first?["spec"] as? [String: Any]
        #expect(spec?["includedNamespaces"] as? [String] == ["shop"] && spec?["snapshotVolumes"] as? Bool == true, "\(spec ?? [:])")
        let selectors = (spec?["orLabelSelectors"] as? [[String: Any]] ?? []).map { $0["matchLabels"] as? [String: String] ?? [:] }
        #expect(selectors == [["app.kubernetes.io/name": "postgresql"], ["flowrunner.io/backup": "fr-b1-database"]], "\(selectors)")
        #expect(Self.phase(veleroBackups.first) == "Completed")
        #expect(((veleroBackups.first?["status"] as? [String: Any])?["progress"] as? [String: Any])?["totalItems"] as? Int == 2,
                "the database's claim and the dump's: \(veleroBackups)")
        // The dump ran against the database's Service, on the dump's claim, which is gone once in the snapshot.
        let dumpJob = try await server.objects("Job", namespace: "shop").first {
            (($0["metadata"] as? [String: Any])?["labels"] as? [String: Any])?["flowrunner.io/backup-job"] as? String == "dump"
        }
        let pod = ((dumpJob?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let claim = ((pod?["volumes"] as? [[String: Any]])?.first?["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String
        #expect(claim == "fr-b1-database-dump", "\(dumpJob ?? [:])")
        let backupRun = listed.first?["run_id"] as? Int ?? 0
        let dumpLog = try await workspace.run(["runs", "logs", String(backupRun)])
        #expect(dumpLog.stdout.contains("pg_dump --host=shop-postgresql.shop.svc"), "\(dumpLog.stdout)")
        let claims = try await server.objects("PersistentVolumeClaim", namespace: "shop").map(Self.name)
        #expect(claims == ["data-shop-postgresql-0"], "\(claims)")

        let restored = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(restored.status == 0, "\(restored.stdout)\(restored.stderr)")
        let restoreRun = (try await workspace.json(["runs", "list", "--output", "json"]) as? [[String: Any]] ?? [])
            .first { $0["hook"] as? String == "restore" }?["id"] as? Int ?? 0
        let restoreLog = try await workspace.run(["runs", "logs", String(restoreRun)])
        #expect(restoreLog.stdout.contains("pg_restore --host=shop-postgresql.shop.svc") && restoreLog.stdout.contains("/backup/database.dump"),
                "\(restoreLog.stdout)")
        let restoreRequests = try await server.requests().filter { ($0["path"] as? String ?? "").hasSuffix("/namespaces/velero/restores") && $0["method"] as? String == "POST" }
        #expect(restoreRequests.count == 1, "one Velero Restore: \(restoreRequests)")
        #expect(try await server.objects("Restore", namespace: "velero").isEmpty, "the Restore is removed once the data is back")
        #expect(try await server.objects("PersistentVolumeClaim", namespace: "shop").map(Self.name) == ["data-shop-postgresql-0"],
                "the restored dump's claim is removed after the restore job")

        let upgraded = try await workspace.run(["upgrade", "shop", "--to", "0.2.0"])
        #expect(upgraded.status == 0, "\(upgraded.stdout)\(upgraded.stderr)")

        let deleted = try await workspace.run(["delete", "shop"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        let namespaces = ((try await server.admin(.GET, "/_test/objects?kind=Namespace") as? [String: Any])?["items"] as? [[String: Any]] ?? []).map(Self.name)
        #expect(!namespaces.contains("shop"), "\(namespaces)")
        #expect(try await server.objects("HelmRelease", namespace: "shop").isEmpty)
        let deployments = try await workspace.json(["deployments", "list", "--output", "json"]) as? [[String: Any]] ?? []
        #expect(!deployments.contains { $0["name"] as? String == "shop" }, "\(deployments)")
        let deleteRun = (try await workspace.json(["runs", "list", "--output", "json"]) as? [[String: Any]] ?? [])
            .first { $0["hook"] as? String == "delete" }?["id"] as? Int ?? 0
        let shown = try await workspace.runShow(deleteRun)
        #expect(shown["status"] as? String == "succeeded", "\(shown)")
        // Backups are kept: in the state store and in Velero.
        #expect(try await backups(workspace).count == 1)
        #expect(try await server.objects("Backup", namespace: "velero").map(Self.name) == ["fr-b1-database"])
    }

    @Test("a Velero Backup that fails leaves the backup failed, saying why; a retry of the run makes a new Velero Backup")
    func failedSnapshot() async throws {
        let workspace = Workspace()
        let server = try await Self.deployedShop(workspace)
        try await server.admin(.POST, "/_test/behaviours", json: ["kind": "velero_fails", "id": "snap", "name": "fr-b1-database",
                                                                  "reason": "volume snapshotter unavailable"])
        let failed = try await workspace.run(["backup", "shop"])
        #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stdout.contains("Velero Backup velero/fr-b1-database ended Failed: volume snapshotter unavailable"), "\(failed.stdout)")
        #expect(failed.stdout.contains("cluster lab"), "\(failed.stdout)")
        let listed = try await backups(workspace)
        #expect(listed.count == 1 && listed.first?["status"] as? String != "completed", "\(listed)")
        #expect(Self.phase(try await server.objects("Backup", namespace: "velero").first) == "Failed")
        #expect(try await server.objects("PersistentVolumeClaim", namespace: "shop").map(Self.name).contains("fr-b1-database-dump"),
                "the dump's claim stays until a snapshot holds it")

        try await server.admin(.DELETE, "/_test/behaviours/snap")
        let run = listed.first?["run_id"] as? Int ?? 0
        let retried = try await workspace.run(["runs", "retry", String(run)])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        let after = try await backups(workspace)
        #expect(after.first?["status"] as? String == "completed", "\(after)")
        #expect(artifacts(after.first).last?["name"] as? String == "fr-b1-database-2", "\(after)")
        let phases = try await server.objects("Backup", namespace: "velero").map { "\(Self.name($0)) \(Self.phase($0) ?? "-")" }
        #expect(phases == ["fr-b1-database Failed", "fr-b1-database-2 Completed"], "the failed one is kept for `velero backup logs`: \(phases)")
    }

    @Test("a disk backup snapshots the volume it names; a restore replaces the stopped component's claim with Velero's copy")
    func diskVolume() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/my-app-disk"
        try FileManager.default.copyItem(atPath: RenderTests.myApp, toPath: driver)
        var text = try String(contentsOfFile: driver + "/driver.styrmin.yml", encoding: .utf8)
        text = text.replacingOccurrences(of: "        kind: postgres # use pg_dump + Velero snapshot\n        database_name: my_app # strategy-specific config\n",
                                         with: "        kind: disk\n        volume: data\n")
        #expect(text.contains("kind: disk"))
        try text.write(toFile: driver + "/driver.styrmin.yml", atomically: true, encoding: .utf8)
        let server = try await KubeTestServerProcess(directory: workspace.directory, charts: Self.chart)
        try await server.admin(.POST, "/_test/objects", json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "velero"]])
        #expect(try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig] + KubernetesHookTests.config).status == 0)
        #expect(try await workspace.run(["drivers", "load", driver]).status == 0)
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")

        let backedUp = try await workspace.run(["backup", "shop"])
        #expect(backedUp.status == 0, "\(backedUp.stdout)\(backedUp.stderr)")
        #expect(artifacts(try await backups(workspace).first).map { $0["kind"] as? String } == ["volume_snapshot"])
        let spec = try await server.objects("Backup", namespace: "velero").first?["spec"] as? [String: Any]
        let selectors = (spec?["orLabelSelectors"] as? [[String: Any]] ?? []).map { $0["matchLabels"] as? [String: String] ?? [:] }
        #expect(selectors == [["flowrunner.io/backup-volume": "fr-b1-database"]], "only the claims of the named volume: \(selectors)")
        let before = try await server.objects("PersistentVolumeClaim", namespace: "shop")
        #expect(before.map(Self.name) == ["data-shop-postgresql-0"])
        let uid = (before.first?["metadata"] as? [String: Any])?["uid"] as? String

        let restored = try await workspace.run(["restore", "shop", "--backup", "1"])
        #expect(restored.status == 0, "\(restored.stdout)\(restored.stderr)")
        let after = try await server.objects("PersistentVolumeClaim", namespace: "shop")
        let metadata = after.first?["metadata"] as? [String: Any]
        #expect(after.map(Self.name) == ["data-shop-postgresql-0"], "\(after)")
        #expect(metadata?["uid"] as? String != uid, "the claim was replaced")
        #expect((metadata?["labels"] as? [String: Any])?["velero.io/restore-name"] as? String == "fr-b1-database-r", "\(after)")
        let statefulSet = try await server.objects("StatefulSet", namespace: "shop").first
        #expect((statefulSet?["spec"] as? [String: Any])?["replicas"] as? Int == 1, "started again after the restore")
    }

    @Test("delete --purge-backups asks Velero to delete the deployment's backups")
    func purge() async throws {
        let workspace = Workspace()
        let server = try await Self.deployedShop(workspace)
        #expect(try await workspace.run(["backup", "shop"]).status == 0)
        let deleted = try await workspace.run(["delete", "shop", "--purge-backups"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        let requests = try await server.objects("DeleteBackupRequest", namespace: "velero")
        #expect(requests.map { ($0["spec"] as? [String: Any])?["backupName"] as? String } == ["fr-b1-database"], "\(requests)")
        let gone = try await server.objects("Backup", namespace: "velero") { $0.isEmpty }
        #expect(gone.isEmpty, "Velero deletes the Backup: \(gone)")
        #expect(try await backups(workspace).isEmpty)
    }
}
