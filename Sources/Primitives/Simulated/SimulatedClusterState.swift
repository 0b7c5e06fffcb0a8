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

        enum CodingKeys: String, CodingKey {
            case name, kind, component, labels, replicas, images, environment, restarts
            case readyReplicas = "ready_replicas"
            case rememberedReplicas = "remembered_replicas"
            case defaultReplicas = "default_replicas"
            case neverReady = "never_ready"
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

    /// How many finished jobs are kept (older ones are removed, as a
    /// Kubernetes TTL controller would).
    public static let retainedJobs = 50

    /// The installed application version; nil before install.
    public var appVersion: String?
    public var workloads: [Workload]
    public var jobs: [Job]
    /// How many times each primitive was called (for failure injection).
    public var primitiveCalls: [String: Int]

    enum CodingKeys: String, CodingKey {
        case workloads, jobs
        case appVersion = "app_version"
        case primitiveCalls = "primitive_calls"
    }

    /// An empty cluster.
    public init() {
        appVersion = nil
        workloads = []
        jobs = []
        primitiveCalls = [:]
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
