public import ActionHost
public import Primitives

/// How an engine runs actions.
public struct EngineConfiguration: Sendable {
    /// Runs action functions in the Python host.
    public var actionRunner: ActionRunner
    /// Where stored driver versions are written out for Python to import
    /// (`<dir>/<digest>/`).
    public var driverCacheDirectory: String
    /// The engine's time limit per action (the flow's `timeout_seconds` applies when shorter).
    public var actionTimeout: Duration?
    /// How the simulated cluster behaves.
    public var fixture: ClusterFixture
    /// This worker's name in leases.
    public var owner: String
    /// How long a claim lasts without a heartbeat.
    public var leaseDuration: Duration
    /// How often the worker renews its lease and looks for a cancel request.
    public var pollInterval: Duration
    /// The longest an automatic retry delay is waited for in-process.
    public var maximumRetryDelay: Duration
    /// Run actions from this directory instead of the stored driver files
    /// (dry-runs: tracebacks then point at the author's own files).
    public var driverDirectoryOverride: String?

    /// Creates a configuration with the usual timings (30 s leases, 200 ms polls).
    public init(
        actionRunner: ActionRunner, driverCacheDirectory: String, actionTimeout: Duration? = nil,
        fixture: ClusterFixture = ClusterFixture(), owner: String
    ) {
        self.actionRunner = actionRunner
        self.driverCacheDirectory = driverCacheDirectory
        self.actionTimeout = actionTimeout
        self.fixture = fixture
        self.owner = owner
        self.leaseDuration = .seconds(30)
        self.pollInterval = .milliseconds(200)
        self.maximumRetryDelay = .seconds(3600)
    }
}
