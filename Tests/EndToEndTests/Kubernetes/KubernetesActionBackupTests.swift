import Foundation
import Testing

/// The checklist on Kubernetes for a driver whose main database is backed up
/// by its own actions (`kind: action`) beside a built-in `postgres` one:
/// backup-app from actions-examples, on the test API server.
@Suite("Kubernetes: a kind action backup beside a postgres one")
struct KubernetesActionBackupTests {
    /// backup-app's chart: the web server and its two PostgreSQL StatefulSets, each with a Service and a claim.
    static var chart: [String: Any] {
        func database(_ name: String, component: String) -> [String: Any] {
            ["kind": "StatefulSet", "name": name, "serviceName": name, "service": name, "image": "postgres:16", "containerName": "postgresql",
             "labels": ["app.kubernetes.io/name": "postgresql", "styrmin/component": component, "app.kubernetes.io/instance": "{release}"],
             "volumeClaimTemplates": [["metadata": ["name": "data"],
                                       "spec": ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "1Gi"]]]]]]
        }
        return ["backup-app": [
            ["kind": "Deployment", "name": "{release}-server",
             "labels": ["app.kubernetes.io/name": "backup-app", "app.kubernetes.io/instance": "{release}"],
             "image": "{values.image.repository}:{values.image.tag}", "containerName": "backup-app", "env": "{values.extraEnv|}"],
            database("styrmin-backup-app-db", component: "database"),
            database("styrmin-backup-app-audit-db", component: "audit-db"),
        ] as [Any]]
    }

    static func actions(_ report: [String: Any]) -> [String] {
        (report["actions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test("deploy, back up, restore, upgrade and delete backup-app: Velero for audit-db, the driver's actions for database")
    func checklist() async throws {
        let workspace = Workspace()
        let server = try await KubeTestServerProcess(directory: workspace.directory, charts: Self.chart)
        try await server.admin(.POST, "/_test/objects", json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "velero"]])
        #expect(try await workspace.run(["clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig] + KubernetesHookTests.config).status == 0)
        #expect(try await workspace.run(["drivers", "load", BackupCycleTests.backupApp]).status == 0)
        let deployed = try await workspace.run(["deploy", "docs", "--driver", "backup-app", "--app-version", "1.6.0", "--cluster", "lab"])
        #expect(deployed.status == 0, "\(deployed.stdout)\(deployed.stderr)")

        let backedUp = try await workspace.run(["backup", "docs"])
        #expect(backedUp.status == 0, "\(backedUp.stdout)\(backedUp.stderr)")
        let backupRun = try await workspace.runShow(2)
        #expect(Self.actions(backupRun) == ["builtin-backup", "backup-database"], "\(backupRun)")
        let listed = try await workspace.json(["backups", "list", "--output", "json"]) as? [[String: Any]] ?? []
        let components = listed.first?["components"] as? [String: Any]
        #expect(listed.first?["status"] as? String == "completed", "\(listed)")
        #expect((components?["database"] as? [String: Any])?["action"] as? String == "backup-database", "\(components ?? [:])")
        #expect((components?["audit-db"] as? [String: Any])?["strategy"] as? String == "postgres")
        let veleroBackups = try await server.objects("Backup", namespace: "velero")
        #expect(veleroBackups.map(KubernetesBackupTests.name) == ["fr-b1-audit-db"], "only the built-in strategy goes through Velero")
        let jobs = try await server.objects("Job", namespace: "docs")
        let commands = jobs.flatMap { job -> [String] in
            let pod = ((job["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
            return (pod?["containers"] as? [[String: Any]] ?? []).flatMap { ($0["command"] as? [String] ?? []) + ($0["args"] as? [String] ?? []) }
        }
        #expect(commands.contains { $0.contains("pg_dump") && $0.contains("/backups/docs-b1.sql") }, "the action's dump of backup 1: \(commands)")

        let restored = try await workspace.run(["restore", "docs", "--backup", "1"])
        #expect(restored.status == 0, "\(restored.stdout)\(restored.stderr)")
        #expect(Self.actions(try await workspace.runShow(3)) == ["builtin-restore", "restore-database", "builtin-start"])
        let upgraded = try await workspace.run(["upgrade", "docs", "--to", "1.7.0"])
        #expect(upgraded.status == 0, "\(upgraded.stdout)\(upgraded.stderr)")
        let deleted = try await workspace.run(["delete", "docs"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        let namespaces = ((try await server.admin(.GET, "/_test/objects?kind=Namespace") as? [String: Any])?["items"] as? [[String: Any]] ?? [])
            .map(KubernetesBackupTests.name)
        #expect(!namespaces.contains("docs"), "delete waits until the namespace is gone: \(namespaces)")
        #expect((try await workspace.json(["deployments", "list", "--output", "json"]) as? [Any])?.isEmpty == true)
        #expect(try await workspace.runShow(5)["status"] as? String == "succeeded")
    }
}
