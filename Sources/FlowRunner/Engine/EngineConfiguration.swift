/// How an engine runs actions.
public struct EngineConfiguration: Sendable {
    /// Runs action functions (the Python host, or a test double).
    public var actionRunner: any ActionExecuting
    /// Where stored driver versions are written out for Python to import
    /// (`<dir>/<digest>/`).
    public var driverCacheDirectory: String
    /// The engine's time limit per action (the flow's `timeout_seconds` applies when shorter).
    public var actionTimeout: Duration?
    /// How often a working attempt looks for a cancel request from any process.
    public var pollInterval: Duration
    /// Run actions from this directory instead of the stored driver files
    /// (dry-runs: tracebacks then point at the author's own files).
    public var driverDirectoryOverride: String?
    /// Renders the Helm values setup and upgrade apply (DESIGN.md "Helm
    /// values"); nil applies none (an engine with a test double for actions).
    public var valuesRenderer: HelmValues.Renderer?

    /// Creates a configuration that looks for cancel requests every 200 ms.
    public init(actionRunner: any ActionExecuting, driverCacheDirectory: String, actionTimeout: Duration? = nil) {
        self.actionRunner = actionRunner
        self.driverCacheDirectory = driverCacheDirectory
        self.actionTimeout = actionTimeout
        self.pollInterval = .milliseconds(200)
    }
}
