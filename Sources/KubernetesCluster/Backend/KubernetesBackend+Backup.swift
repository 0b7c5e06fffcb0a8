import FlowModel
import Foundation
import NIOCore
public import Primitives

/// Backups on Kubernetes (DESIGN.md "Backup, restore, delete"): a database
/// dump is written to a claim of its own (``BackupObjects/dumpClaim(name:namespace:labels:size:storageClass:)``),
/// the component's claims and the dump's are snapshotted by a Velero
/// `Backup`, and a Velero `Restore` puts them back. Every object is named
/// after the backup, so a re-execution adopts what an earlier attempt made.
///
/// The cluster's config: `backup_dump_size` (a quantity, default `1Gi`),
/// `backup_storage_class` (default: the cluster's), `velero_namespace`
/// (default `velero`).
extension KubernetesBackend {
    /// Where Velero runs: the cluster's `velero_namespace` config, else `velero`.
    var veleroNamespace: String { configText("velero_namespace") ?? BackupObjects.defaultVeleroNamespace }

    /// A non-empty string from the cluster's config.
    func configText(_ key: String) -> String? {
        guard let text = config[key]?.stringValue, !text.isEmpty else { return nil }
        return text
    }

    /// The labels of the objects of backup `name`: the deployment's and `flowrunner.io/backup`.
    func backupLabels(_ name: String) -> [String: String] {
        labels.merging([BackupObjects.backupLabel: name]) { _, new in new }
    }

    /// A failure while doing `what`, its message naming the cluster, the namespace and `what`.
    func failure(_ error: KubernetesError, while what: String) -> ClusterError {
        let prefix = "cluster \(client.cluster): "
        let message = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
        return ClusterError(failure(error).code, "cluster \(client.cluster), namespace \(namespace): \(what): \(message)")
    }

    public func prepareDump(_ request: ComponentBackupRequest) async throws(ClusterError) -> JobVolume? {
        let claim = BackupObjects.dumpClaimName(request.name)
        let object = BackupObjects.dumpClaim(name: claim, namespace: namespace, labels: backupLabels(request.name),
                                             size: configText("backup_dump_size") ?? BackupObjects.defaultDumpSize,
                                             storageClass: configText("backup_storage_class"))
        do {
            try await createClaim(object, name: claim, deadline: ContinuousClock.now + .seconds(120))
        } catch {
            throw failure(error, while: "the claim \(claim) for the dump of component \(request.component.name)")
        }
        return JobVolume(claim: claim, mountPath: BackupStrategy.mountPath)
    }

    /// Creates the claim, or adopts the one of that name; one still being
    /// deleted (an earlier attempt's, after its snapshot) is waited out and made again.
    func createClaim(_ object: JSONValue, name: String, deadline: ContinuousClock.Instant) async throws(KubernetesError) {
        let path = Resource.persistentVolumeClaims.path(namespace: namespace)
        guard try await client.send(.POST, path, body: object, accept: [409]).status == 409 else { return }
        let existing = try await client.send(.GET, Resource.persistentVolumeClaims.path(namespace: namespace, name: name), accept: [404])
        guard existing.status == 404 || existing.body["metadata"]?["deletionTimestamp"] != nil else { return }
        try await waitGone(.persistentVolumeClaims, in: namespace, names: [name], deadline: deadline)
        _ = try await client.send(.POST, path, body: object, accept: [409])
    }

    public func snapshotVolumes(_ request: ComponentBackupRequest, dumped: Bool, timeout: Duration) async throws(ClusterError) -> [BackupArtifact] {
        let deadline = ContinuousClock.now + timeout
        let velero = veleroNamespace
        var backup = request.name
        do {
            var selectors: [[String: String]] = []
            if request.volumes.isEmpty {
                // Volumes alone: a snapshot of nothing would pass for a backup.
                if !dumped { try await requireClaims(of: request) }
                selectors.append(request.component.labels)
            } else {
                try await markVolumes(request)
                selectors.append([BackupObjects.volumeLabel: request.name])
            }
            if dumped { selectors.append([BackupObjects.backupLabel: request.name]) }
            backup = try await startVeleroBackup(request, selectors: selectors)
            let name = backup
            let done = try await ListWatch(client: client, resource: .veleroBackups, namespace: velero, fieldSelector: "metadata.name=" + name)
                .wait(until: deadline) { BackupObjects.verdict($0[name], kind: "Backup", namespace: velero, name: name) }
            // The dump is in the snapshot now: its claim is not kept beside it.
            if dumped {
                _ = try await client.send(.DELETE, Resource.persistentVolumeClaims.path(namespace: namespace, name: BackupObjects.dumpClaimName(request.name)),
                                          accept: [404])
            }
            let now = Date().timeIntervalSince1970
            let location = BackupObjects.location(veleroNamespace: velero, name: name)
            var artifacts: [BackupArtifact] = []
            if dumped {
                artifacts.append(BackupArtifact(component: request.component.name, kind: .dump, name: request.strategy.dumpFile(component: request.component.name),
                                                sizeBytes: nil, createdAt: now, location: location))
            }
            artifacts.append(BackupArtifact(component: request.component.name, kind: .volumeSnapshot, name: name,
                                            sizeBytes: done[name].flatMap(BackupObjects.sizeBytes), createdAt: now, location: location))
            return artifacts
        } catch {
            throw failure(error, while: "the volume snapshot of component \(request.component.name) (Velero Backup \(velero)/\(backup))")
        }
    }

    /// Throws, naming the component and its labels, when no claim of it is in the namespace.
    func requireClaims(of request: ComponentBackupRequest) async throws(KubernetesError) {
        let selector = Self.selector(request.component.labels)
        let claims = try await client.send(.GET, Resource.persistentVolumeClaims.path(namespace: namespace), query: [("labelSelector", selector)])
            .body["items"]?.arrayValue ?? []
        guard claims.isEmpty else { return }
        throw KubernetesError(.status, "component \(request.component.name) has no PersistentVolumeClaim labelled \(selector): nothing to snapshot",
                              httpStatus: 404)
    }

    /// Labels the claims `request.volumes` name with ``BackupObjects/volumeLabel``, so the snapshot selects them.
    ///
    /// - Throws: ``KubernetesError`` naming the volumes no claim of the component matches.
    func markVolumes(_ request: ComponentBackupRequest) async throws(KubernetesError) {
        let claims = try await client.send(.GET, Resource.persistentVolumeClaims.path(namespace: namespace),
                                           query: [("labelSelector", Self.selector(request.component.labels))]).body["items"]?.arrayValue ?? []
        let found = BackupObjects.claims(claims, named: request.volumes)
        guard found.missing.isEmpty else {
            let known = claims.compactMap { $0["metadata"]?["name"]?.stringValue }.sorted()
            throw KubernetesError(.status, "no PersistentVolumeClaim of component \(request.component.name) for volume(s) \(found.missing.joined(separator: ", ")) "
                + "(its claims: \(known.isEmpty ? "none" : known.joined(separator: ", ")))", httpStatus: 404)
        }
        for claim in found.matched {
            _ = try await client.send(.PATCH, Resource.persistentVolumeClaims.path(namespace: namespace, name: claim),
                                      body: ["metadata": ["labels": [BackupObjects.volumeLabel: .string(request.name)]]],
                                      contentType: KubernetesClient.PatchType.merge.rawValue)
        }
    }

    /// The name of the Velero Backup of `request`: one an earlier attempt
    /// started, when it is running or completed, is adopted; else a new one
    /// is made, named `request.name`, or `NAME-2`, `NAME-3` ... after failed
    /// ones (kept for `velero backup logs`; Velero's TTL removes them).
    func startVeleroBackup(_ request: ComponentBackupRequest, selectors: [[String: String]]) async throws(KubernetesError) -> String {
        let velero = veleroNamespace
        let ours = Self.selector([BackupObjects.backupLabel: request.name, "flowrunner.io/deployment": deployment])
        let existing = try await client.send(.GET, Resource.veleroBackups.path(namespace: velero), query: [("labelSelector", ours)], accept: [404])
            .body["items"]?.arrayValue ?? []
        let names = existing.compactMap { $0["metadata"]?["name"]?.stringValue }
        if let usable = existing.first(where: { BackupObjects.phase($0) == "Completed" }) ?? existing.first(where: { !BackupObjects.isFinished($0) }),
           let name = usable["metadata"]?["name"]?.stringValue {
            return name
        }
        var number = 1
        while names.contains(number == 1 ? request.name : BackupObjects.name(request.name, suffix: "-\(number)")) { number += 1 }
        let name = number == 1 ? request.name : BackupObjects.name(request.name, suffix: "-\(number)")
        let object = BackupObjects.backup(name: name, veleroNamespace: velero, namespace: namespace, selectors: selectors,
                                          labels: backupLabels(request.name))
        try await createVelero(.veleroBackups, object, in: velero)
        return name
    }

    /// Creates a Velero object (a `409` adopts the existing one); a `404`
    /// says that Velero is not where the config says.
    func createVelero(_ resource: Resource, _ object: JSONValue, in velero: String) async throws(KubernetesError) {
        do {
            _ = try await client.send(.POST, resource.path(namespace: velero), body: object, accept: [409])
        } catch where error.httpStatus == 404 {
            throw KubernetesError(.status, error.message + " (is Velero installed? its namespace \(velero) or its velero.io/v1 resources are missing; "
                + "the cluster's config velero_namespace names where it runs)", httpStatus: 404, reason: error.reason)
        }
    }

    public func restoreVolumes(_ request: ComponentBackupRequest, timeout: Duration) async throws(ClusterError) -> JobVolume? {
        let deadline = ContinuousClock.now + timeout
        guard let snapshot = request.artifacts.first(where: { $0.kind == .volumeSnapshot }) else {
            throw ClusterError(.failed, "backup \(request.backupID) kept no volume snapshot of component \(request.component.name) to restore")
        }
        let velero = BackupObjects.backup(at: snapshot.location)?.namespace ?? veleroNamespace
        let restore = BackupObjects.name(request.name, suffix: "-r")
        let dumps = request.strategy.dumpsDatabase
        let claim = BackupObjects.dumpClaimName(request.name)
        let volume = JobVolume(claim: claim, mountPath: BackupStrategy.mountPath)
        do throws(KubernetesError) {
            let current = try await client.send(.GET, Resource.veleroRestores.path(namespace: velero, name: restore), accept: [404])
            // An earlier attempt's Restore: waited for while it runs; a finished one is done again (the claims may have changed since),
            // unless it brought back the dump that is still there.
            var running = false
            if current.status != 404 {
                if !BackupObjects.isFinished(current.body) {
                    running = true
                } else if dumps, BackupObjects.phase(current.body) == "Completed", try await claimExists(claim) {
                    return volume
                } else {
                    _ = try await client.send(.DELETE, Resource.veleroRestores.path(namespace: velero, name: restore), accept: [404])
                    try await waitGone(.veleroRestores, in: velero, names: [restore], deadline: deadline)
                }
            }
            if !running {
                if !dumps {
                    // Velero does not overwrite a claim that exists: the component's (stopped) claims go first.
                    let selector = request.volumes.isEmpty ? request.component.labels : [BackupObjects.volumeLabel: request.name]
                    try await deleteClaims(matching: selector, component: request.component.name, deadline: deadline)
                }
                let object = BackupObjects.restore(name: restore, veleroNamespace: velero, backupName: snapshot.name, namespace: namespace,
                                                   selector: dumps ? [BackupObjects.backupLabel: request.name] : nil, labels: backupLabels(request.name))
                try await createVelero(.veleroRestores, object, in: velero)
            }
            _ = try await ListWatch(client: client, resource: .veleroRestores, namespace: velero, fieldSelector: "metadata.name=" + restore)
                .wait(until: deadline) { BackupObjects.verdict($0[restore], kind: "Restore", namespace: velero, name: restore) }
            guard dumps else { return nil }
            guard try await claimExists(claim) else {
                throw KubernetesError(.status, "Velero Restore \(velero)/\(restore) completed without bringing back the dump's claim \(claim) "
                    + "(is it in Velero Backup \(velero)/\(snapshot.name)?)", httpStatus: 404)
            }
            return volume
        } catch {
            throw failure(error, while: "restoring component \(request.component.name) from Velero Backup \(velero)/\(snapshot.name) (Restore \(velero)/\(restore))")
        }
    }

    func claimExists(_ name: String) async throws(KubernetesError) -> Bool {
        let answer = try await client.send(.GET, Resource.persistentVolumeClaims.path(namespace: namespace, name: name), accept: [404])
        return answer.status != 404 && answer.body["metadata"]?["deletionTimestamp"] == nil
    }

    /// Deletes the claims matching `selector` and waits until they are gone.
    func deleteClaims(matching selector: [String: String], component: String, deadline: ContinuousClock.Instant) async throws(KubernetesError) {
        let query = [("labelSelector", Self.selector(selector))]
        let claims = try await client.send(.GET, Resource.persistentVolumeClaims.path(namespace: namespace), query: query).body["items"]?.arrayValue ?? []
        let names = claims.compactMap { $0["metadata"]?["name"]?.stringValue }
        for name in names {
            _ = try await client.send(.DELETE, Resource.persistentVolumeClaims.path(namespace: namespace, name: name), accept: [404])
        }
        try await waitGone(.persistentVolumeClaims, in: namespace, names: names, deadline: deadline, what: "the claims of component \(component)")
    }

    /// Waits until none of `names` (objects of `resource` in `namespace`) is left.
    func waitGone(_ resource: Resource, in namespace: String, names: [String], deadline: ContinuousClock.Instant, what: String? = nil) async throws(KubernetesError) {
        guard !names.isEmpty else { return }
        let wanted = Set(names)
        let field = names.count == 1 ? "metadata.name=" + names[0] : nil
        let description = what ?? "\(resource.kind) \(namespace)/\(names.sorted().joined(separator: ", "))"
        _ = try await ListWatch(client: client, resource: resource, namespace: namespace, fieldSelector: field).wait(until: deadline) { objects in
            let left = wanted.intersection(objects.keys).sorted()
            return left.isEmpty ? .done : .waiting("\(description) to be gone (left: \(left.prefix(5).joined(separator: ", ")))")
        }
    }

    public func finishRestore(_ request: ComponentBackupRequest) async throws(ClusterError) {
        let snapshot = request.artifacts.first { $0.kind == .volumeSnapshot }
        let velero = snapshot.flatMap { BackupObjects.backup(at: $0.location)?.namespace } ?? veleroNamespace
        let restore = BackupObjects.name(request.name, suffix: "-r")
        do {
            if request.strategy.dumpsDatabase {
                _ = try await client.send(.DELETE, Resource.persistentVolumeClaims.path(namespace: namespace, name: BackupObjects.dumpClaimName(request.name)),
                                          accept: [404])
            }
            _ = try await client.send(.DELETE, Resource.veleroRestores.path(namespace: velero, name: restore), accept: [404])
        } catch {
            throw failure(error, while: "cleaning up after restoring component \(request.component.name) (Restore \(velero)/\(restore))")
        }
    }

    public func serviceHost(matching labels: [String: String]) async throws(ClusterError) -> String? {
        do {
            let pods = try await client.send(.GET, Resource.pods.path(namespace: namespace), query: [("labelSelector", Self.selector(labels))])
                .body["items"]?.arrayValue ?? []
            var labelSets = pods.filter(WorkloadStatus.isWorkloadPod).compactMap { $0["metadata"]?["labels"]?.objectValue?.compactMapValues(\.stringValue) }
            // A component with no pod now: its workloads' pod templates say what its pods will carry.
            if labelSets.isEmpty { labelSets = try await listWorkloads(selector: Self.selector(labels)).map(\.workload.labels) }
            let services = try await client.send(.GET, Resource.services.path(namespace: namespace)).body["items"]?.arrayValue ?? []
            let matching = services.filter { service in
                guard let selector = service["spec"]?["selector"]?.objectValue?.compactMapValues(\.stringValue), !selector.isEmpty else { return false }
                return labelSets.contains { set in selector.allSatisfy { set[$0.key] == $0.value } }
            }
            // A Service with a cluster IP before a headless one; then by name, so the answer is the same each time.
            let chosen = matching.min { first, second in
                let headless = (first["spec"]?["clusterIP"]?.stringValue == "None", second["spec"]?["clusterIP"]?.stringValue == "None")
                if headless.0 != headless.1 { return !headless.0 }
                return (first["metadata"]?["name"]?.stringValue ?? "") < (second["metadata"]?["name"]?.stringValue ?? "")
            }
            return chosen?["metadata"]?["name"]?.stringValue.map { "\($0).\(namespace).svc" }
        } catch {
            throw failure(error, while: "finding the Service in front of the pods labelled \(Self.selector(labels))")
        }
    }

    public func deleteBackupArtifacts(_ artifacts: [BackupArtifact]) async throws(ClusterError) {
        for artifact in artifacts where artifact.kind == .volumeSnapshot {
            guard let place = BackupObjects.backup(at: artifact.location) else { continue }
            do {
                let current = try await client.send(.GET, Resource.veleroBackups.path(namespace: place.namespace, name: place.name), accept: [404])
                guard current.status != 404, BackupObjects.phase(current.body) != "Deleting" else { continue }
                // Velero deletes the Backup, its files and its snapshots on a DeleteBackupRequest.
                let request = BackupObjects.deleteRequest(backupName: place.name, veleroNamespace: place.namespace, labels: labels)
                _ = try await client.send(.POST, Resource.veleroDeleteBackupRequests.path(namespace: place.namespace), body: request, accept: [404, 409])
            } catch {
                throw failure(error, while: "deleting Velero Backup \(place.namespace)/\(place.name) of component \(artifact.component)")
            }
        }
    }
}
