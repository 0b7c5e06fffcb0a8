import FlowModel
@testable import KubernetesCluster
import Primitives
import Testing

@Suite("The objects of a backup on Kubernetes: the dump's claim, a Job mounting it, Velero's Backup, Restore and DeleteBackupRequest")
struct BackupObjectsTests {
    let owner = ["app.kubernetes.io/managed-by": "flowrunner", "flowrunner.io/deployment": "shop"]

    @Test("a Job mounts each of its volumes as a claim, and carries the deployment's labels on itself, not on its pod")
    func jobVolumes() {
        var job = JobSpec(name: "fr-1-a-2", image: "postgres:16", commands: ["pg_dump"], environment: [:], labels: ["app.kubernetes.io/name": "postgresql"])
        job.volumes = [JobVolume(claim: "fr-b1-database-dump", mountPath: "/backup"), JobVolume(claim: "extra", mountPath: "/extra")]
        let object = JobObject.make(job, namespace: "shop", ownerLabels: owner)
        let pod = object["spec"]?["template"]?["spec"]
        #expect(pod?["volumes"] == [
            ["name": "volume-1", "persistentVolumeClaim": ["claimName": "fr-b1-database-dump"]],
            ["name": "volume-2", "persistentVolumeClaim": ["claimName": "extra"]],
        ])
        #expect(pod?["containers"]?.arrayValue?.first?["volumeMounts"] == [
            ["name": "volume-1", "mountPath": "/backup"], ["name": "volume-2", "mountPath": "/extra"],
        ])
        #expect(object["metadata"]?["labels"]?["flowrunner.io/deployment"] == "shop")
        #expect(object["metadata"]?["labels"]?["app.kubernetes.io/name"] == "postgresql")
        #expect(object["spec"]?["template"]?["metadata"]?["labels"] == ["app.kubernetes.io/name": "postgresql"],
                "the pod keeps the job's own labels only")

        let plain = JobObject.make(JobSpec(name: "j", image: "i", commands: ["true"], environment: [:], labels: [:]), namespace: "shop")
        #expect(plain["spec"]?["template"]?["spec"]?["volumes"] == nil)
        #expect(plain["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["volumeMounts"] == nil)
    }

    @Test("the dump's claim: ReadWriteOnce of the configured size, with the storage class only when one is set")
    func dumpClaim() {
        let claim = BackupObjects.dumpClaim(name: "fr-b1-database-dump", namespace: "shop", labels: ["flowrunner.io/backup": "fr-b1-database"],
                                            size: "5Gi", storageClass: "fast")
        #expect(claim["kind"] == "PersistentVolumeClaim" && claim["metadata"]?["namespace"] == "shop")
        #expect(claim["metadata"]?["labels"] == ["flowrunner.io/backup": "fr-b1-database"])
        #expect(claim["spec"] == ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": "5Gi"]], "storageClassName": "fast"])
        let plain = BackupObjects.dumpClaim(name: "d", namespace: "shop", labels: [:], size: "1Gi", storageClass: nil)
        #expect(plain["spec"]?["storageClassName"] == nil)
        #expect(BackupObjects.dumpClaimName("fr-b1-database") == "fr-b1-database-dump")
    }

    @Test("a Velero Backup selects the namespace's claims and volumes by any of the selectors, with snapshots")
    func veleroBackup() {
        let backup = BackupObjects.backup(name: "fr-b1-database", veleroNamespace: "velero", namespace: "shop",
                                          selectors: [["app.kubernetes.io/name": "postgresql"], ["flowrunner.io/backup": "fr-b1-database"]],
                                          labels: owner)
        #expect(backup["apiVersion"] == "velero.io/v1" && backup["kind"] == "Backup")
        #expect(backup["metadata"] == ["name": "fr-b1-database", "namespace": "velero", "labels": .object(owner.mapValues(JSONValue.string))])
        #expect(backup["spec"] == [
            "includedNamespaces": ["shop"], "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
            "orLabelSelectors": [["matchLabels": ["app.kubernetes.io/name": "postgresql"]], ["matchLabels": ["flowrunner.io/backup": "fr-b1-database"]]],
            "snapshotVolumes": true,
        ])
    }

    @Test("a Velero Restore names its backup, and selects by labels only when asked")
    func veleroRestore() {
        let restore = BackupObjects.restore(name: "fr-b1-database-r", veleroNamespace: "velero", backupName: "fr-b1-database", namespace: "shop",
                                            selector: ["flowrunner.io/backup": "fr-b1-database"], labels: owner)
        #expect(restore["kind"] == "Restore" && restore["metadata"]?["namespace"] == "velero")
        #expect(restore["spec"] == [
            "backupName": "fr-b1-database", "includedNamespaces": ["shop"], "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
            "restorePVs": true, "labelSelector": ["matchLabels": ["flowrunner.io/backup": "fr-b1-database"]],
        ])
        let all = BackupObjects.restore(name: "r", veleroNamespace: "velero", backupName: "b", namespace: "shop", selector: nil, labels: [:])
        #expect(all["spec"]?["labelSelector"] == nil)
        let delete = BackupObjects.deleteRequest(backupName: "fr-b1-database", veleroNamespace: "velero", labels: owner)
        #expect(delete["kind"] == "DeleteBackupRequest" && delete["spec"] == ["backupName": "fr-b1-database"])
        #expect(delete["metadata"]?["name"] == "fr-b1-database-delete" && delete["metadata"]?["labels"]?["velero.io/backup-name"] == "fr-b1-database")
    }

    func velero(_ phase: String?, status: [String: JSONValue] = [:]) -> JSONValue {
        var all = status
        if let phase { all["phase"] = .string(phase) }
        return ["metadata": ["name": "fr-b1-database", "namespace": "velero"], "status": .object(all)]
    }

    @Test("a Velero object is done on Completed, fails on a failed phase with its reasons, and is waited for otherwise, saying its phase")
    func veleroVerdict() {
        func verdict(_ object: JSONValue?) -> ListWatch.Verdict {
            BackupObjects.verdict(object, kind: "Backup", namespace: "velero", name: "fr-b1-database")
        }
        #expect(verdict(velero("Completed")) == .done)
        #expect(verdict(velero("Failed", status: ["failureReason": "volume snapshotter failed"]))
                == .failed("Velero Backup velero/fr-b1-database ended Failed: volume snapshotter failed"))
        #expect(verdict(velero("PartiallyFailed", status: ["errors": 2]))
                == .failed("Velero Backup velero/fr-b1-database ended PartiallyFailed: 2 error(s), see `velero backup logs fr-b1-database`"))
        #expect(verdict(velero("FailedValidation", status: ["validationErrors": ["a", "b"]]))
                == .failed("Velero Backup velero/fr-b1-database ended FailedValidation: validation errors: a; b"))
        #expect(verdict(velero("InProgress", status: ["progress": ["totalItems": 4, "itemsBackedUp": 1]]))
                == .waiting("Velero Backup velero/fr-b1-database to complete (phase InProgress, 1 of 4 items)"))
        #expect(verdict(velero(nil)) == .waiting("Velero Backup velero/fr-b1-database to complete (Velero has not taken it up yet: is Velero running?)"))
        #expect(verdict(nil) == .failed("Velero Backup velero/fr-b1-database is gone (deleted by someone else?)"))
        #expect(BackupObjects.isFinished(velero("Completed")) && BackupObjects.isFinished(velero("Failed")) && !BackupObjects.isFinished(velero("New")))
        #expect(BackupObjects.sizeBytes(velero("Completed", status: ["progress": ["totalBytes": 1024]])) == 1024)
        #expect(BackupObjects.sizeBytes(velero("Completed", status: ["progress": ["totalItems": 2]])) == nil)
    }

    @Test("names: a suffix keeps a DNS label within 63 characters; a location names the Velero Backup and reads back")
    func names() {
        let long = String(repeating: "a", count: 62) + "b"
        #expect(BackupObjects.name(long, suffix: "-r").count == 63)
        #expect(BackupObjects.name("fr-b1-" + String(repeating: "x", count: 54) + "-y", suffix: "-dump").hasSuffix("x-dump"))
        #expect(BackupObjects.name("fr-b1-db", suffix: "-2") == "fr-b1-db-2")
        let location = BackupObjects.location(veleroNamespace: "velero", name: "fr-b1-db")
        #expect(location == "velero.io/v1 Backup velero/fr-b1-db")
        #expect(BackupObjects.backup(at: location).map { [$0.namespace, $0.name] } == ["velero", "fr-b1-db"])
        #expect(BackupObjects.backup(at: "simulated") == nil)
        #expect(BackupObjects.backup(at: "velero.io/v1 Backup /x") == nil)
    }

    @Test("the claims of named volumes: the claim of that name, or a StatefulSet's made from the template of that name")
    func namedClaims() {
        let claims: [JSONValue] = ["data-db-0", "data-db-1", "logs", "database-x"].map { ["metadata": ["name": .string($0)]] }
        let found = BackupObjects.claims(claims, named: ["data", "logs", "cache"])
        #expect(found.matched == ["data-db-0", "data-db-1", "logs"])
        #expect(found.missing == ["cache"])
    }
}
