public import DriverSpec
public import FlowModel

/// The seam between primitives and a cluster, shaped after Kubernetes:
/// workloads selected by labels with a scale subresource, pods with images,
/// Jobs with deterministic names that can be adopted, and the app version
/// (the Helm release's). One backend instance serves one deployment.
///
/// Every method is idempotent where the Kubernetes call is (scale, create-or-
/// adopt a job, delete a job, set the version).
public protocol ClusterBackend: Sendable {
    /// Installs the deployment's components at `version` with the Helm
    /// `values` (a JSON object; nil when the driver has no values template):
    /// the setup hook's built-in core, a Helm install on a real cluster.
    func install(spec: DriverSpecification, version: String, values: JSONValue?) async throws(ClusterError)
    /// The workloads whose pods carry all of `labels`.
    func workloads(matching labels: [String: String]) async throws(ClusterError) -> [Workload]
    /// Sets a workload's replica count; `remember` stores (or, when nil, keeps)
    /// the count to restore on the next start, `forget` clears it.
    func scale(workload: String, replicas: Int, remember: Int?, forget: Bool) async throws(ClusterError)
    /// Waits until each named workload has exactly its desired replicas
    /// ready (0 means no pod left). Fails with a timeout error after `timeout`.
    func waitUntilSettled(workloads: [String], timeout: Duration) async throws(ClusterError)
    /// Restarts a workload's pods (a rollout restart).
    func restart(workload: String) async throws(ClusterError)
    /// The images (`repo:tag`) of the pods matching `labels`, or of their
    /// workloads' pod templates when no pod runs.
    func images(matching labels: [String: String]) async throws(ClusterError) -> [String]
    /// Environment variables of the first container of the workloads matching `labels`.
    func environment(matching labels: [String: String]) async throws(ClusterError) -> [String: String]
    /// Creates the job, or adopts the existing job of that name; returns its state.
    func startJob(_ job: JobSpec) async throws(ClusterError) -> JobState
    /// Waits for the named job to finish and returns its result. A backend
    /// that can follow the job's output while it runs hands each line to
    /// `output` (without the backend's own marker lines); one that cannot
    /// leaves the output to the result.
    func waitForJob(named name: String, timeout: Duration, output: (@Sendable (String) -> Void)?) async throws(ClusterError) -> JobResult
    /// Deletes the named job and its pods (no-op when absent).
    func deleteJob(named name: String) async throws(ClusterError)
    /// The application version currently deployed (nil before install).
    func appVersion() async throws(ClusterError) -> String?
    /// Sets the application version and applies `values` (a Helm upgrade of
    /// the release; nil keeps the values it has).
    func setAppVersion(_ version: String, values: JSONValue?) async throws(ClusterError)
    /// The Helm values the release was last installed or upgraded with; nil
    /// before install or when none were applied.
    func appliedValues() async throws(ClusterError) -> JSONValue?
    /// `values` as ``appliedValues()`` would give them back once applied (a
    /// Kubernetes API server drops null members); the default keeps them as they are.
    func valuesAsStored(_ values: JSONValue) -> JSONValue
    /// Waits until every workload runs the current version and is ready.
    func waitForRollout(timeout: Duration) async throws(ClusterError)
    /// Called before each primitive executes for real (not on replay), with
    /// its canonical name: a simulated cluster counts calls and throws the
    /// failure a fixture injects. The default does nothing.
    func primitiveWillRun(_ primitive: String) async throws(ClusterError)
    /// Saves what the backend kept in memory during an attempt; called when
    /// the attempt ends. The default does nothing.
    func commit() async throws(ClusterError)
    /// What the cluster holds for the deployment, as a JSON object
    /// (`app_version`, `workloads`, `jobs`): what `dry-run` shows before and after.
    func snapshot() async throws(ClusterError) -> String

    // MARK: Backup, restore, delete (DESIGN.md); the defaults refuse.

    /// Makes the volume a database strategy's dump job writes to (mounted at
    /// ``BackupStrategy/mountPath``): a claim of its own on Kubernetes,
    /// labelled so the volume snapshot takes it along; nil where jobs keep no
    /// files (the simulated cluster). Adopts the volume of an earlier attempt.
    func prepareDump(_ request: ComponentBackupRequest) async throws(ClusterError) -> JobVolume?
    /// Snapshots the component's volumes (those `request.volumes` name, or
    /// all) and, when `dumped`, the dump's volume, waiting up to `timeout`
    /// for the snapshot to complete; returns what was kept. A snapshot that
    /// fails throws, naming the phase the cluster reports.
    func snapshotVolumes(_ request: ComponentBackupRequest, dumped: Bool, timeout: Duration) async throws(ClusterError) -> [BackupArtifact]
    /// Puts back what `request.artifacts` kept, the component being stopped
    /// (for a dump: only the dump's volume), waiting up to `timeout`; returns
    /// the volume a restore job reads the dump from, if there is one.
    func restoreVolumes(_ request: ComponentBackupRequest, timeout: Duration) async throws(ClusterError) -> JobVolume?
    /// Called after the component's data is back (its restore job
    /// succeeded): removes what the restore needed only for itself.
    func finishRestore(_ request: ComponentBackupRequest) async throws(ClusterError)
    /// The host name a dump tool reaches the component's pods at (the
    /// Service selecting them), or nil when the cluster cannot tell.
    func serviceHost(matching labels: [String: String]) async throws(ClusterError) -> String?
    /// Deletes what a backup kept on the cluster (`delete --purge-backups`);
    /// what is already gone is no error.
    func deleteBackupArtifacts(_ artifacts: [BackupArtifact]) async throws(ClusterError)
    /// Uninstalls the release and removes every object the deployment made
    /// (jobs, dump volumes, the namespace FlowRunner created), waiting up to
    /// `timeout` until they are gone. Uninstalling what is gone is a no-op.
    func uninstall(timeout: Duration) async throws(ClusterError)
}

extension ClusterBackend {
    public func valuesAsStored(_ values: JSONValue) -> JSONValue { values }
    public func primitiveWillRun(_ primitive: String) async throws(ClusterError) {}
    public func commit() async throws(ClusterError) {}
}

/// A Deployment or StatefulSet of a component.
public struct Workload: Sendable, Hashable, Codable {
    /// Object name.
    public var name: String
    /// `Deployment` or `StatefulSet`.
    public var kind: String
    /// Desired replicas (`spec.replicas`).
    public var replicas: Int
    /// Ready replicas.
    public var readyReplicas: Int
    /// The replica count remembered by the last stop, if any.
    public var rememberedReplicas: Int?
    /// The pod labels.
    public var labels: [String: String]

    /// Creates a workload description.
    public init(name: String, kind: String, replicas: Int, readyReplicas: Int, rememberedReplicas: Int?, labels: [String: String]) {
        self.name = name
        self.kind = kind
        self.replicas = replicas
        self.readyReplicas = readyReplicas
        self.rememberedReplicas = rememberedReplicas
        self.labels = labels
    }
}

/// A job to run: commands in order in one container.
public struct JobSpec: Sendable, Hashable, Codable {
    /// Deterministic name (from run, action and step), so a re-execution adopts it.
    public var name: String
    /// Container image.
    public var image: String
    /// Commands, each run with `/bin/sh -c`, stopping at the first failure.
    public var commands: [String]
    /// Environment variables.
    public var environment: [String: String]
    /// Pod labels.
    public var labels: [String: String]
    /// How long the job may run (a Kubernetes Job's `activeDeadlineSeconds`); nil: no limit of its own.
    public var timeout: Duration?
    /// The labels of the component whose container environment the job
    /// takes as the cluster has it (`env_from_component`): a backend that
    /// can copies references (a Secret's key, a field) too, not only values.
    public var environmentSource: [String: String]?
    /// Volumes the job mounts (a dump's claim).
    public var volumes: [JobVolume] = []

    /// Creates a job description.
    public init(name: String, image: String, commands: [String], environment: [String: String], labels: [String: String]) {
        self.name = name
        self.image = image
        self.commands = commands
        self.environment = environment
        self.labels = labels
    }
}

/// Whether a job was created now or already existed.
public enum JobState: String, Sendable, Hashable, Codable {
    /// Created by this call.
    case created
    /// It existed (a re-execution); it was adopted, not started again.
    case adopted
}

/// What a finished job did.
public struct JobResult: Sendable, Hashable, Codable {
    /// One entry per command that ran.
    public struct CommandResult: Sendable, Hashable, Codable {
        public var command: String
        public var exitCode: Int
        public var output: String

        public init(command: String, exitCode: Int, output: String) {
            self.command = command
            self.exitCode = exitCode
            self.output = output
        }

        enum CodingKeys: String, CodingKey {
            case command, output
            case exitCode = "exit_code"
        }
    }

    /// The commands that ran, in order (stopping after the first failure).
    public var commands: [CommandResult]

    /// Creates a result.
    public init(commands: [CommandResult]) {
        self.commands = commands
    }

    /// The first failed command, if any.
    public var failure: CommandResult? { commands.first { $0.exitCode != 0 } }
}

/// A failure of the cluster or of the backend.
public struct ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// Waiting for a state took longer than allowed.
        public static let timeout = Code("timeout")
        /// A named object does not exist.
        public static let notFound = Code("notFound")
        /// A failure injected by a simulation fixture.
        public static let injected = Code("injected")
        /// The cluster refused or failed the request.
        public static let failed = Code("failed")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
