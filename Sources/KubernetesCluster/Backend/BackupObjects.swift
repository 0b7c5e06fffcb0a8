import FlowModel
import Foundation
import Primitives

/// The objects of a backup on Kubernetes (DESIGN.md "Backup, restore,
/// delete"): the claim a database dump is written to, and Velero's
/// (`velero.io/v1`) `Backup`, `Restore` and `DeleteBackupRequest`, with how
/// their `status.phase` is read.
enum BackupObjects {
    /// On a dump's claim and on Velero's objects: the backup's name on the cluster.
    static let backupLabel = "flowrunner.io/backup"
    /// On the claims `backup.volume(s)` name: the backup's name, so its Velero Backup selects only them.
    static let volumeLabel = "flowrunner.io/backup-volume"
    /// A dump's claim size when the cluster's config has no `backup_dump_size`.
    static let defaultDumpSize = "1Gi"
    /// Where Velero runs when the cluster's config has no `velero_namespace`.
    static let defaultVeleroNamespace = "velero"
    /// What a snapshot holds: the claims and their volumes.
    static let snapshotResources: JSONValue = ["persistentvolumeclaims", "persistentvolumes"]
    /// Phases after which Velero does no more: `Completed` and the failures.
    static let failedPhases: Set<String> = ["Failed", "PartiallyFailed", "FailedValidation", "Deleting"]

    /// The claim holding the dump of backup `name`.
    static func dumpClaimName(_ name: String) -> String { Self.name(name, suffix: "-dump") }

    /// `base` followed by `suffix` as one DNS-1123 label: `base` is shortened
    /// (and a trailing `-` dropped) so the whole fits 63 characters.
    static func name(_ base: String, suffix: String) -> String {
        var head = String(base.prefix(max(1, 63 - suffix.count)))
        while head.hasSuffix("-") { head.removeLast() }
        return head + suffix
    }

    /// Where an artifact kept in Velero Backup `name` is: `velero.io/v1 Backup NAMESPACE/NAME`.
    static func location(veleroNamespace: String, name: String) -> String {
        "\(Resource.veleroBackups.apiVersion) Backup \(veleroNamespace)/\(name)"
    }

    /// The namespace and name of the Velero Backup a ``location(veleroNamespace:name:)`` names; nil for any other place.
    static func backup(at location: String) -> (namespace: String, name: String)? {
        let prefix = "\(Resource.veleroBackups.apiVersion) Backup "
        guard location.hasPrefix(prefix) else { return nil }
        let parts = location.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    static func labelObject(_ labels: [String: String]) -> JSONValue { .object(labels.mapValues(JSONValue.string)) }

    /// The claim a dump job writes to: ReadWriteOnce, `size` (a quantity,
    /// `1Gi`), of `storageClass` (nil: the cluster's default).
    static func dumpClaim(name: String, namespace: String, labels: [String: String], size: String, storageClass: String?) -> JSONValue {
        var spec: [String: JSONValue] = ["accessModes": ["ReadWriteOnce"], "resources": ["requests": ["storage": .string(size)]]]
        if let storageClass { spec["storageClassName"] = .string(storageClass) }
        return [
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": labelObject(labels)],
            "spec": .object(spec),
        ]
    }

    /// The Velero Backup of the claims in `namespace` matching any of
    /// `selectors` (each a set of labels that must all match), with their volumes' snapshots.
    static func backup(name: String, veleroNamespace: String, namespace: String, selectors: [[String: String]], labels: [String: String]) -> JSONValue {
        [
            "apiVersion": .string(Resource.veleroBackups.apiVersion), "kind": "Backup",
            "metadata": ["name": .string(name), "namespace": .string(veleroNamespace), "labels": labelObject(labels)],
            "spec": [
                "includedNamespaces": [.string(namespace)], "includedResources": snapshotResources,
                "orLabelSelectors": .array(selectors.map { ["matchLabels": labelObject($0)] }),
                "snapshotVolumes": true,
            ],
        ]
    }

    /// The Velero Restore of Backup `backupName` into `namespace`: the claims
    /// matching `selector` (nil: all it holds) and their volumes.
    static func restore(name: String, veleroNamespace: String, backupName: String, namespace: String, selector: [String: String]?,
                        labels: [String: String]) -> JSONValue {
        var spec: [String: JSONValue] = [
            "backupName": .string(backupName), "includedNamespaces": [.string(namespace)], "includedResources": snapshotResources,
            "restorePVs": true,
        ]
        if let selector { spec["labelSelector"] = ["matchLabels": labelObject(selector)] }
        return [
            "apiVersion": .string(Resource.veleroRestores.apiVersion), "kind": "Restore",
            "metadata": ["name": .string(name), "namespace": .string(veleroNamespace), "labels": labelObject(labels)],
            "spec": .object(spec),
        ]
    }

    /// What asks Velero to delete Backup `backupName` with its data and snapshots (what `velero backup delete` creates).
    static func deleteRequest(backupName: String, veleroNamespace: String, labels: [String: String]) -> JSONValue {
        var all = labels
        all["velero.io/backup-name"] = backupName
        return [
            "apiVersion": .string(Resource.veleroDeleteBackupRequests.apiVersion), "kind": "DeleteBackupRequest",
            "metadata": ["name": .string(name(backupName, suffix: "-delete")), "namespace": .string(veleroNamespace), "labels": labelObject(all)],
            "spec": ["backupName": .string(backupName)],
        ]
    }

    /// A Velero object's `status.phase` (`""` before Velero saw it).
    static func phase(_ object: JSONValue) -> String { object["status"]?["phase"]?.stringValue ?? "" }

    /// Whether Velero is done with it: `Completed`, or one of ``failedPhases``.
    static func isFinished(_ object: JSONValue) -> Bool {
        let phase = phase(object)
        return phase == "Completed" || failedPhases.contains(phase)
    }

    /// Why a Velero object ended in a failed phase (its phase, `failureReason`,
    /// `validationErrors`, error count), or nil when it did not.
    static func failure(_ object: JSONValue, kind: String) -> String? {
        let phase = phase(object)
        guard failedPhases.contains(phase) else { return nil }
        let status = object["status"] ?? .object([:])
        let name = object["metadata"]?["name"]?.stringValue ?? "?"
        let namespace = object["metadata"]?["namespace"]?.stringValue ?? "?"
        var reasons: [String] = []
        if let reason = status["failureReason"]?.stringValue, !reason.isEmpty { reasons.append(reason) }
        let validation = (status["validationErrors"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !validation.isEmpty { reasons.append("validation errors: " + validation.joined(separator: "; ")) }
        if let errors = status["errors"]?.intValue, errors > 0 {
            reasons.append("\(errors) error(s), see `velero \(kind.lowercased()) logs \(name)`")
        }
        if phase == "Deleting" { reasons.append("it is being deleted") }
        return "Velero \(kind) \(namespace)/\(name) ended \(phase)" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))
    }

    /// The wait for Velero `kind` `namespace/name` to complete: done on
    /// `Completed`, failed on a failed phase or when it is gone, else waiting (saying its phase and progress).
    static func verdict(_ object: JSONValue?, kind: String, namespace: String, name: String) -> ListWatch.Verdict {
        let what = "Velero \(kind) \(namespace)/\(name)"
        guard let object else { return .failed("\(what) is gone (deleted by someone else?)") }
        if let failure = failure(object, kind: kind) { return .failed(failure) }
        let phase = phase(object)
        if phase == "Completed" { return .done }
        guard !phase.isEmpty else { return .waiting("\(what) to complete (Velero has not taken it up yet: is Velero running?)") }
        let progress = object["status"]?["progress"]
        let items = progress.flatMap { progress -> String? in
            guard let total = progress["totalItems"]?.intValue else { return nil }
            let done = progress["itemsBackedUp"]?.intValue ?? progress["itemsRestored"]?.intValue ?? 0
            return ", \(done) of \(total) items"
        } ?? ""
        return .waiting("\(what) to complete (phase \(phase)\(items))")
    }

    /// A completed Backup's size in bytes, when its `status.progress` says
    /// (`totalBytes` or `bytesDone`, as Velero's data movers report); else nil.
    static func sizeBytes(_ backup: JSONValue) -> Int? {
        let progress = backup["status"]?["progress"]
        return progress?["totalBytes"]?.intValue ?? progress?["bytesDone"]?.intValue
    }

    /// Of the claims `claims` (objects), those `volumes` name: a claim named
    /// as the volume, or made from a StatefulSet's claim template of that
    /// name (`VOLUME-WORKLOAD-0`). Returns the claims' names and the volumes no claim matched.
    static func claims(_ claims: [JSONValue], named volumes: [String]) -> (matched: [String], missing: [String]) {
        let names = claims.compactMap { $0["metadata"]?["name"]?.stringValue }.sorted()
        var matched: [String] = []
        var missing: [String] = []
        for volume in volumes {
            let found = names.filter { $0 == volume || $0.hasPrefix(volume + "-") }
            if found.isEmpty { missing.append(volume) }
            for name in found where !matched.contains(name) { matched.append(name) }
        }
        return (matched, missing)
    }
}
