import DriverSpec
import FlowModel
import Foundation

/// Backups on the simulated cluster: a dump job runs like any job (the
/// fixture's `dump_fails` / `restore_fails` make it exit 1); a snapshot
/// records, per component, the revision of its data, its size and the time;
/// a restore puts that revision back. The artifacts live in the backup
/// record, outside the cluster, as Velero's live in object storage, so an
/// uninstall does not lose them.
extension SimulatedCluster {
    /// Where artifacts of the simulated cluster are kept.
    static let artifactLocation = "simulated"

    /// The output a fixture makes a backup's job fail with, if any.
    static func injectedBackupFailure(of job: JobSpec, in state: SimulatedClusterState, fixture: ClusterFixture) -> String? {
        guard let purpose = job.labels["flowrunner.io/backup-job"], let source = job.environmentSource,
              let workload = state.workloads.first(where: { matches($0.labels, source) }) else { return nil }
        let configured = fixture.components[workload.component]
        return purpose == "dump" ? configured?.dumpFails : configured?.restoreFails
    }

    public func prepareDump(_ request: ComponentBackupRequest) async throws(ClusterError) -> JobVolume? {
        nil
    }

    public func serviceHost(matching labels: [String: String]) async throws(ClusterError) -> String? {
        try await state().workloads.first { Self.matches($0.labels, labels) }?.name
    }

    public func snapshotVolumes(_ request: ComponentBackupRequest, dumped: Bool, timeout: Duration) async throws(ClusterError) -> [BackupArtifact] {
        let workloads = try await workloads(of: request.component)
        let configured = fixture.components[request.component.name]
        if let failure = configured?.snapshotFails {
            throw ClusterError(.failed, "the volume snapshot of component \(request.component.name) failed: \(failure)")
        }
        let revision = workloads.map { $0.dataRevision ?? 1 }.max() ?? 1
        let size = configured?.dataSize ?? 1 << 20
        let now = Date().timeIntervalSince1970
        var artifacts: [BackupArtifact] = []
        if dumped {
            artifacts.append(BackupArtifact(component: request.component.name, kind: .dump, name: request.strategy.dumpFile(component: request.component.name),
                                            sizeBytes: size, createdAt: now, location: Self.artifactLocation, dataRevision: revision))
        }
        artifacts.append(BackupArtifact(component: request.component.name, kind: .volumeSnapshot, name: request.name,
                                        sizeBytes: size, createdAt: now, location: Self.artifactLocation, dataRevision: revision))
        return artifacts
    }

    public func restoreVolumes(_ request: ComponentBackupRequest, timeout: Duration) async throws(ClusterError) -> JobVolume? {
        _ = try await workloads(of: request.component)
        if !request.strategy.dumpsDatabase { try await putBack(request) }
        return nil
    }

    public func finishRestore(_ request: ComponentBackupRequest) async throws(ClusterError) {
        if request.strategy.dumpsDatabase { try await putBack(request) }
    }

    public func uninstall(timeout: Duration) async throws(ClusterError) {
        // Everything goes, the fixture's call counts too: a deployment made again under the name starts afresh.
        try await update { state throws(ClusterError) in state = SimulatedClusterState() }
    }

    /// The component's data at the revision the backup kept (its dump's, for a database strategy).
    private func putBack(_ request: ComponentBackupRequest) async throws(ClusterError) {
        let preferred: BackupArtifact.Kind = request.strategy.dumpsDatabase ? .dump : .volumeSnapshot
        guard let artifact = request.artifacts.first(where: { $0.kind == preferred }) ?? request.artifacts.first,
              let revision = artifact.dataRevision else {
            throw ClusterError(.failed, "backup \(request.backupID) holds no simulated data of component \(request.component.name)")
        }
        try await update { state throws(ClusterError) in
            for index in state.workloads.indices where Self.matches(state.workloads[index].labels, request.component.labels) {
                state.workloads[index].dataRevision = revision
            }
        }
    }

    private func workloads(of component: ComponentSpec) async throws(ClusterError) -> [SimulatedClusterState.Workload] {
        let found = try await state().workloads.filter { Self.matches($0.labels, component.labels) }
        guard !found.isEmpty else {
            throw ClusterError(.notFound, "component \(component.name) has no workloads in the simulated cluster; is the deployment installed?")
        }
        return found
    }
}
