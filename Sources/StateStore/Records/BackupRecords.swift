public import Foundation

/// Where a backup stands, from its record and its run (DESIGN.md "Backup,
/// restore, delete"): only a backup whose run reached its end with every
/// artifact recorded is `completed`.
public enum BackupStatus: String, Sendable, Hashable, CaseIterable {
    /// Its run is queued, running or cancelling.
    case running
    /// Every component's artifacts are recorded: it can be restored.
    case completed
    /// Its run failed or was cancelled before the backup was complete (a retry of the run may still complete it).
    case failed
}

/// A backup of a deployment: the record its `backup` run fills in.
public struct BackupRecord: Sendable, Hashable {
    public var id: RecordID
    public var deploymentID: RecordID
    /// The deployment's name (joined for convenience).
    public var deployment: String
    /// The `backup` run that takes it (nil once that run was pruned).
    public var runID: RecordID?
    /// The status of that run (joined; nil once it was pruned).
    public var runStatus: RunStatus?
    /// The app version the deployment ran when the backup was requested.
    public var appVersion: String
    public var createdAt: Date
    /// When every artifact was recorded; nil until then.
    public var completedAt: Date?
    /// Per component, what was kept: a JSON object
    /// `{COMPONENT: {"strategy": KIND, "artifacts": [...]}}`; nil until completed.
    public var artifactsJSON: String?

    public init(id: RecordID, deploymentID: RecordID, deployment: String, runID: RecordID?, runStatus: RunStatus?, appVersion: String,
                createdAt: Date, completedAt: Date?, artifactsJSON: String?) {
        self.id = id
        self.deploymentID = deploymentID
        self.deployment = deployment
        self.runID = runID
        self.runStatus = runStatus
        self.appVersion = appVersion
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.artifactsJSON = artifactsJSON
    }

    /// Completed once its artifacts are recorded; else as its run stands.
    public var status: BackupStatus {
        if completedAt != nil { return .completed }
        switch runStatus {
        case .queued?, .running?, .cancelling?: return .running
        case .succeeded?, .failed?, .cancelled?, nil: return .failed
        }
    }
}

/// What is needed to record a backup (its run is created with it).
public struct NewBackup: Sendable, Hashable {
    public var deploymentID: RecordID
    public var appVersion: String

    public init(deploymentID: RecordID, appVersion: String) {
        self.deploymentID = deploymentID
        self.appVersion = appVersion
    }
}
