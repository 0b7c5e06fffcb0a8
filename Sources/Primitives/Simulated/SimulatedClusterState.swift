public import FlowModel
import Foundation

/// Everything the simulated cluster knows about one deployment. Stored as
/// JSON (snake_case keys) in the state store, or kept in memory for dry-runs.
public struct SimulatedClusterState: Sendable, Hashable, Codable {
    /// A simulated Deployment: one per component.
    public struct Workload: Sendable, Hashable, Codable {
        public var name: String
        public var kind: String
        public var component: String
        public var labels: [String: String]
        public var replicas: Int
        public var readyReplicas: Int
        public var rememberedReplicas: Int?
        /// Replicas a start restores when nothing is remembered.
        public var defaultReplicas: Int
        public var images: [String]
        public var environment: [String: String]
        public var restarts: Int
        public var neverReady: Bool
        /// The revision of the component's data: 1 at install, one more for
        /// each version change and each job run with its env (a migration);
        /// a restore puts back the revision its backup kept. Nil (1) in
        /// states saved before backups existed.
        public var dataRevision: Int?

        enum CodingKeys: String, CodingKey {
            case name, kind, component, labels, replicas, images, environment, restarts
            case readyReplicas = "ready_replicas"
            case rememberedReplicas = "remembered_replicas"
            case defaultReplicas = "default_replicas"
            case neverReady = "never_ready"
            case dataRevision = "data_revision"
        }
    }

    /// A simulated Job.
    public struct Job: Sendable, Hashable, Codable {
        public var name: String
        public var image: String
        public var commands: [String]
        public var environment: [String: String]
        public var labels: [String: String]
        public var result: JobResult
        /// Seconds the job takes in all.
        public var duration: Double
        public var finished: Bool
        /// When the job was created (seconds since 1970): an adopted job
        /// only has the rest of its duration left.
        public var startedAt: Double?

        enum CodingKeys: String, CodingKey {
            case name, image, commands, environment, labels, result, duration, finished
            case startedAt = "started_at"
        }
    }

    /// One install or upgrade of the chart, as `helm history` lists it.
    public struct Release: Sendable, Hashable, Codable {
        /// 1 for the install, then one more per upgrade.
        public var revision: Int
        /// The app version it installed.
        public var appVersion: String
        /// The Helm values it applied (a JSON object; nil: the driver has no values template).
        public var values: JSONValue?
        /// When it was applied, in seconds since 1970.
        public var appliedAt: Double

        enum CodingKeys: String, CodingKey {
            case revision, values
            case appVersion = "app_version"
            case appliedAt = "applied_at"
        }
    }

    /// How many releases are kept (Helm's default `--history-max`).
    public static let retainedReleases = 10

    /// How many finished jobs are kept (older ones are removed, as a
    /// Kubernetes TTL controller would).
    public static let retainedJobs = 50

    /// The installed application version; nil before install.
    public var appVersion: String?
    public var workloads: [Workload]
    public var jobs: [Job]
    /// How many times each primitive was called (for failure injection).
    public var primitiveCalls: [String: Int]
    /// The chart's releases, oldest first (the last ``retainedReleases``).
    public var releases: [Release]

    enum CodingKeys: String, CodingKey {
        case workloads, jobs, releases
        case appVersion = "app_version"
        case primitiveCalls = "primitive_calls"
    }

    /// An empty cluster.
    public init() {
        appVersion = nil
        workloads = []
        jobs = []
        primitiveCalls = [:]
        releases = []
    }

    /// Reads a saved state; one saved before releases were recorded has none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        appVersion = try container.decodeIfPresent(String.self, forKey: .appVersion)
        workloads = try container.decode([Workload].self, forKey: .workloads)
        jobs = try container.decode([Job].self, forKey: .jobs)
        primitiveCalls = try container.decode([String: Int].self, forKey: .primitiveCalls)
        releases = try container.decodeIfPresent([Release].self, forKey: .releases) ?? []
    }

    /// Records an install or upgrade of the chart at `version` with `values`.
    mutating func recordRelease(version: String, values: JSONValue?, at time: Double) {
        releases.append(Release(revision: (releases.last?.revision ?? 0) + 1, appVersion: version, values: values, appliedAt: time))
        if releases.count > Self.retainedReleases { releases.removeFirst(releases.count - Self.retainedReleases) }
    }

    /// JSON with snake_case keys, pretty or compact.
    public func jsonText(pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// JSON of one job.
    static func jsonText(of job: Job) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(job)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func job(jsonText: String) throws -> Job {
        try JSONDecoder().decode(Job.self, from: Data(jsonText.utf8))
    }

    /// Reads the JSON written by ``jsonText(pretty:)``.
    public init(jsonText: String) throws {
        self = try JSONDecoder().decode(SimulatedClusterState.self, from: Data(jsonText.utf8))
    }
}

/// Where a simulated cluster keeps its state.
public protocol SimulatedClusterStorage: Sendable {
    /// The saved state (with its jobs), or nil when there is none yet.
    func load() async throws -> SimulatedClusterState?
    /// Saves `state`; of its jobs, only `changedJobs` are (re)written and
    /// `removedJobs` deleted, so a save costs the same however many jobs ran.
    func save(_ state: SimulatedClusterState, changedJobs: [SimulatedClusterState.Job], removedJobs: [String]) async throws
}

/// State kept in memory only (dry-runs, tests).
public final class InMemoryClusterStorage: SimulatedClusterStorage, @unchecked Sendable {
    private let lock = NSLock()
    private var state: SimulatedClusterState?

    /// Starts with `state` (nil: nothing installed).
    public init(_ state: SimulatedClusterState? = nil) {
        self.state = state
    }

    public func load() throws -> SimulatedClusterState? {
        lock.withLock { state }
    }

    public func save(_ state: SimulatedClusterState, changedJobs: [SimulatedClusterState.Job], removedJobs: [String]) throws {
        lock.withLock { self.state = state }
    }
}
