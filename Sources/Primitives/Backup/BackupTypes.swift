public import DriverSpec


/// A volume a job mounts: a PersistentVolumeClaim on Kubernetes.
public struct JobVolume: Sendable, Hashable, Codable {
    /// The claim's name.
    public var claim: String
    /// Where the job's container sees it (`/backup` for dumps).
    public var mountPath: String

    /// Creates a volume mount.
    public init(claim: String, mountPath: String) {
        self.claim = claim
        self.mountPath = mountPath
    }
}

/// One component's part of a backup, or of a restore from one (DESIGN.md
/// "Backup, restore, delete").
public struct ComponentBackupRequest: Sendable, Hashable {
    /// The backup's id in the state store.
    public var backupID: Int64
    /// The name of this component's backup on the cluster: a DNS-1123 label
    /// made of deployment, backup id and component (`fr-my-app-b3-database`),
    /// the same on every attempt, so a re-execution adopts what it created.
    public var name: String
    /// The component.
    public var component: ComponentSpec
    /// Its strategy (`backup.kind`).
    public var strategy: BackupStrategy
    /// The volumes `backup.volume` / `backup.volumes` name; empty: every volume of the component.
    public var volumes: [String]
    /// What the backup recorded (a restore's input; empty when backing up).
    public var artifacts: [BackupArtifact]

    /// The name of backup `backupID`'s part for `component` on a cluster
    /// (`fr-b3-database`): a DNS-1123 label (lower case letters, digits and
    /// '-', at most 63 characters), unique because backup ids are.
    public static func clusterName(backupID: Int64, component: String) -> String {
        let cleaned = String(component.lowercased().unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)) ? Character(scalar) : "-"
        })
        var name = "fr-b\(backupID)-\(cleaned)"
        if name.count > 63 { name = String(name.prefix(63)) }
        while name.hasSuffix("-") { name.removeLast() }
        return name
    }

    /// Creates a request.
    public init(backupID: Int64, name: String, component: ComponentSpec, strategy: BackupStrategy, volumes: [String], artifacts: [BackupArtifact] = []) {
        self.backupID = backupID
        self.name = name
        self.component = component
        self.strategy = strategy
        self.volumes = volumes
        self.artifacts = artifacts
    }
}

/// What a backup keeps of one component: a dump file, or a snapshot of its
/// volumes. Stored in the backup record as JSON (snake_case keys).
public struct BackupArtifact: Sendable, Hashable, Codable {
    /// The kinds of artifact.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A database tool's dump file.
        case dump
        /// Snapshots of the component's volumes.
        case volumeSnapshot = "volume_snapshot"
    }

    /// The component it belongs to.
    public var component: String
    /// Dump or volume snapshot.
    public var kind: Kind
    /// The dump file (`/backup/database.dump`) or the snapshot's name (a Velero Backup's).
    public var name: String
    /// Its size in bytes, when the cluster says.
    public var sizeBytes: Int?
    /// When it was made, in seconds since 1970.
    public var createdAt: Double
    /// Where it is kept: `simulated`, or `velero.io/v1 Backup NAMESPACE/NAME`.
    public var location: String
    /// The simulated cluster's data revision it holds (nil on a real cluster).
    public var dataRevision: Int?

    /// Creates an artifact.
    public init(component: String, kind: Kind, name: String, sizeBytes: Int?, createdAt: Double, location: String, dataRevision: Int? = nil) {
        self.component = component
        self.kind = kind
        self.name = name
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
        self.location = location
        self.dataRevision = dataRevision
    }

    enum CodingKeys: String, CodingKey {
        case component, kind, name, location
        case sizeBytes = "size_bytes"
        case createdAt = "created_at"
        case dataRevision = "data_revision"
    }
}

/// A cluster that cannot take backups or uninstall refuses with this.
extension ClusterBackend {
    public func prepareDump(_ request: ComponentBackupRequest) async throws(ClusterError) -> JobVolume? {
        throw ClusterError(.failed, "this cluster cannot take backups")
    }

    public func snapshotVolumes(_ request: ComponentBackupRequest, dumped: Bool, timeout: Duration) async throws(ClusterError) -> [BackupArtifact] {
        throw ClusterError(.failed, "this cluster cannot take backups")
    }

    public func restoreVolumes(_ request: ComponentBackupRequest, timeout: Duration) async throws(ClusterError) -> JobVolume? {
        throw ClusterError(.failed, "this cluster cannot restore backups")
    }

    public func finishRestore(_ request: ComponentBackupRequest) async throws(ClusterError) {}

    public func serviceHost(matching labels: [String: String]) async throws(ClusterError) -> String? { nil }

    public func deleteBackupArtifacts(_ artifacts: [BackupArtifact]) async throws(ClusterError) {}

    public func uninstall(timeout: Duration) async throws(ClusterError) {
        throw ClusterError(.failed, "this cluster cannot uninstall a deployment")
    }
}
