public import Logging
public import StateStore

/// How a ``Scheduler`` claims and keeps runs.
public struct SchedulerConfiguration: Sendable {
    /// This worker's name in leases (`serve-88@runner-a`).
    public var owner: LeaseOwner
    /// How many runs are worked at once (``Scheduler/run()``).
    public var workers: Int
    /// How long a claim lasts without a heartbeat; heartbeats come every third of it.
    public var leaseDuration: Duration
    /// How often an idle worker looks at the queue, and recovery at expired leases.
    public var pollInterval: Duration
    /// The longest a delayed retry is waited for in-process (``Scheduler/work(runID:observer:)``).
    public var maximumRetryDelay: Duration
    /// How long running actions may go on after a graceful shutdown began,
    /// before they are stopped and left to recovery.
    public var gracePeriod: Duration
    /// Where ``Scheduler/run()`` tells each run's transitions (claimed,
    /// finished, retry scheduled, released, recovered), one line each with
    /// `run_id`, `deployment`, `hook` and `attempt`; nil (the CLI): nowhere.
    public var logger: Logger?
    /// Whether ``Scheduler/run()`` records its metrics through swift-metrics
    /// (`serve`, which bootstraps a Prometheus backend); false by default,
    /// so the CLI reads nothing extra.
    public var recordsMetrics = false

    /// One worker, 30 s leases, 200 ms polls, a 30 s grace period.
    public init(owner: LeaseOwner, workers: Int = 1) {
        self.owner = owner
        self.workers = max(1, workers)
        self.leaseDuration = .seconds(30)
        self.pollInterval = .milliseconds(200)
        self.maximumRetryDelay = .seconds(3600)
        self.gracePeriod = .seconds(30)
    }
}
