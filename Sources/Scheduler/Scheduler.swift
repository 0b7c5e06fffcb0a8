import FlowModel
public import FlowRunner
import Foundation
public import ServiceLifecycle
public import StateStore
import Synchronization

/// The durable queue's workers: claims runnable runs (one write transaction
/// each), keeps their leases by heartbeat, works each claimed attempt with the
/// ``Engine``, recovers runs whose worker died, and waits out delayed retries.
///
/// Two ways in, one behaviour:
/// - ``run()`` (a swift-service-lifecycle `Service`, for `serve`): a pool of
///   ``SchedulerConfiguration/workers`` workers over the whole queue until a
///   graceful shutdown, which stops claiming and lets running actions finish
///   for up to ``SchedulerConfiguration/gracePeriod``.
/// - ``work(runID:observer:)`` (the CLI's `deploy`, `upgrade`, `runs retry`):
///   one worker, one run, to its end, in this process.
///
/// Recovery has one path, ``recover(_:)``: a running or cancelling run whose
/// lease expired, or whose owner is a dead process of this machine, goes
/// back to the queue for its next attempt (a cancelling one ends cancelled).
public struct Scheduler: Service {
    /// The engine that works attempts.
    public let engine: Engine
    /// Claims, leases and pacing.
    public let configuration: SchedulerConfiguration

    var store: any StateStore { engine.store }

    /// A scheduler working runs of `engine`'s store.
    public init(engine: Engine, configuration: SchedulerConfiguration) {
        self.engine = engine
        self.configuration = configuration
    }

    // MARK: Service

    /// Works the queue with the configured number of workers until the task
    /// is cancelled or a graceful shutdown is asked for.
    public func run() async throws {
        let stopping = StopFlag(), busy = BusyCount()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await recoveryLoop(until: stopping) }
                for _ in 0..<configuration.workers {
                    group.addTask { await workerLoop(until: stopping, busy: busy) }
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            stopping.set()
        }
    }

    /// One worker: claims the oldest runnable run, works it, and looks again;
    /// when nothing is runnable, waits for the store to tell of a queued or
    /// ended run, a poll interval at most.
    func workerLoop(until stopping: StopFlag, busy: BusyCount) async {
        while !stopping.isSet, !Task.isCancelled {
            let claimed: RunRecord?
            let asked = ContinuousClock.now
            do {
                claimed = try await store.claimNextRun(owner: configuration.owner, leaseDuration: configuration.leaseDuration, runID: nil)
            } catch {
                claimed = nil
            }
            guard let claimed else {
                // Woken when a run is queued or ends anywhere (a store that is told of it), else polls.
                await store.waitForQueueChange(timeout: configuration.pollInterval)
                continue
            }
            let grace = configuration.gracePeriod
            log("run claimed", claimed)
            if configuration.recordsMetrics {
                SchedulerMetrics.claimed(claimed)
                SchedulerMetrics.busyWorkers(busy.add(1))
            }
            let work = Task { try await workClaimed(claimed, claimAskedAt: asked, observer: nil) }
            // Once a shutdown begins the attempt gets the grace period, then is stopped (left to recovery).
            let deadline = Task {
                while !stopping.isSet, !Task.isCancelled {
                    try? await Task.sleep(for: configuration.pollInterval)
                }
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { work.cancel() }
            }
            let outcome = await withTaskCancellationHandler {
                await work.result
            } onCancel: {
                work.cancel()
            }
            deadline.cancel()
            log(outcome, claimed)
            if configuration.recordsMetrics {
                SchedulerMetrics.busyWorkers(busy.add(-1))
                if case .success(let ended) = outcome { await SchedulerMetrics.attemptEnded(ended.run, store: store) }
            }
        }
    }

    /// Recovers abandoned runs every few poll intervals until stopped.
    func recoveryLoop(until stopping: StopFlag) async {
        while !stopping.isSet, !Task.isCancelled {
            _ = try? await recoverAbandonedRuns()
            try? await Task.sleep(for: configuration.pollInterval * 5)
        }
    }

    // MARK: Recovery

    /// Every running or cancelling run whose worker is gone (lease expired,
    /// or a dead process of this machine), recovered. Returns them as they are now.
    @discardableResult
    public func recoverAbandonedRuns() async throws(EngineError) -> [RunRecord] {
        let (now, candidates) = try await stored { () async throws(StateStoreError) in
            (try await store.currentTime(),
             try await store.runsWithExpiredLease()
                + store.runs(matching: RunFilter(status: .running, limit: 1_000))
                + store.runs(matching: RunFilter(status: .cancelling, limit: 1_000)))
        }
        var seen = Set<RecordID>(), recovered: [RunRecord] = []
        for run in candidates where seen.insert(run.id).inserted && run.isAbandoned(now: now) {
            if let record = try await recover(run) {
                recovered.append(record)
                log("run recovered", record, ["abandoned_by": "\(run.leaseOwner?.description ?? "unknown")"])
            }
        }
        return recovered
    }

    /// The one recovery path: puts an abandoned running run back in the queue
    /// for its next attempt (replay as usual), ends an abandoned cancelling
    /// run `cancelled`. The store decides, by its clock, whether the lease has
    /// expired (or its owner is a dead process of this machine): nil when the
    /// run is not abandoned after all, or another worker recovered it first.
    public func recover(_ run: RunRecord) async throws(EngineError) -> RunRecord? {
        guard run.status == .running || run.status == .cancelling else { return nil }
        let gone = run.leaseOwner.flatMap { $0.isKnownGone ? $0 : nil }
        return try await stored { () async throws(StateStoreError) in
            try await store.requeueExpiredRun(id: run.id, abandonedOwner: gone)
        }
    }

    // MARK: One attempt

    /// Works one claimed attempt with a heartbeat beside it. A lost lease
    /// stops the attempt, which then writes nothing more; a lease that may
    /// have run out (no renewal within it, see ``LeaseFence``) refuses the
    /// action's calls even before. `claimAskedAt`: when the claim was
    /// requested (nil: now, for a run claimed just before).
    public func workClaimed(
        _ run: RunRecord, claimAskedAt: ContinuousClock.Instant? = nil, observer: (any RunObserver)?
    ) async throws(EngineError) -> AttemptOutcome {
        let engine = engine, owner = configuration.owner
        let store = store, lease = configuration.leaseDuration
        // A call made once the lease may have run out asks the store first: a
        // worker that was only paused, and whose run nobody took over, goes on.
        let fence = LeaseFence(askedAt: claimAskedAt ?? .now, leaseDuration: lease) { () async throws(StateStoreError) in
            try await store.renewLease(runID: run.id, owner: owner, attempt: run.attempt, leaseDuration: lease)
        }
        let attempt = Task { () async throws -> AttemptOutcome in
            try await engine.runAttempt(run, owner: owner, lease: fence, observer: observer)
        }
        fence.whenLost { attempt.cancel() }
        let keeper = LeaseKeeper(store: store, runID: run.id, attempt: run.attempt, owner: owner, leaseDuration: lease, fence: fence)
        let heartbeat = Task { await keeper.keep(cancelling: attempt) }
        let result = await withTaskCancellationHandler {
            await attempt.result
        } onCancel: {
            attempt.cancel()
        }
        heartbeat.cancel()
        let lost = await heartbeat.value
        switch result {
        case .success(let outcome):
            if let lost = lost ?? fence.lossReason, case .released(let record, _) = outcome { return .released(record, reason: lost) }
            return outcome
        case .failure(let error as EngineError):
            throw error
        case .failure(let error):
            throw EngineError(.failed, "\(error)")
        }
    }

    /// The store's time (leases are judged by its clock).
    func now() async throws(EngineError) -> Date {
        try await stored { () async throws(StateStoreError) in try await store.currentTime() }
    }

    /// Runs a store call, turning its error into the engine's.
    func stored<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        do {
            return try await body()
        } catch {
            throw EngineError(storeError: error)
        }
    }

    // MARK: The CLI's way

    /// Works `runID` to its end in this process with one worker and returns
    /// its final record: waits while another run of the deployment works or
    /// a delayed retry is not yet due, recovers the run if its earlier worker
    /// died, and follows automatic retries. A run already finished (or
    /// `cancelling` under a live worker) is returned as it is.
    ///
    /// Throws ``EngineError/Code/notFound`` for an unknown run and
    /// ``EngineError/Code/conflict`` when a live worker elsewhere holds it, or
    /// when it waits behind a run whose worker is gone (naming that run).
    public func work(runID: RecordID, observer: (any RunObserver)? = nil) async throws(EngineError) -> RunRecord {
        var announced: RecordID?
        while true {
            guard let run = try await stored({ () async throws(StateStoreError) in try await store.run(id: runID) }) else {
                throw EngineError(.notFound, "no run \(runID)")
            }
            if run.status.isFinished { return run }
            if run.status == .running || run.status == .cancelling {
                guard run.isAbandoned(now: try await now()) else {
                    if run.status == .cancelling { return run }
                    throw EngineError(.conflict, "run \(runID) is being worked by \(run.leaseOwner?.description ?? "another worker")")
                }
                // Its worker died: the next attempt resumes it (a cancelling one ends cancelled).
                _ = try await recover(run)
                continue
            }
            let now = Date()
            if let due = run.notBefore, due > now {
                let wait = min(due.timeIntervalSince(now), configuration.maximumRetryDelay.seconds)
                try? await Task.sleep(for: Seconds.clampedDuration(wait))
                if Task.isCancelled { return run }
                continue
            }
            let owner = configuration.owner, asked = ContinuousClock.now
            guard let claimed = try await stored({ () async throws(StateStoreError) in
                try await store.claimNextRun(owner: owner, leaseDuration: configuration.leaseDuration, runID: runID)
            }) else {
                if let older = try await olderQueuedRun(than: run) {
                    // Its creator is not working it (it would hold it): work it first, oldest first.
                    observer?.waiting(for: older.id, reason: "queued earlier for \(run.deployment); working it first")
                    _ = try await work(runID: older.id, observer: observer)
                    continue
                }
                try await waitBehindOtherRun(run, observer: observer, announced: &announced)
                if Task.isCancelled { return run }
                continue
            }
            switch try await workClaimed(claimed, claimAskedAt: asked, observer: observer) {
            case .finished(let record), .released(let record, _):
                return record
            case .retryScheduled:
                continue
            }
        }
    }

    /// The oldest run of the same deployment queued before `run` and due now,
    /// if any. A delayed retry still waiting for its time is left to the
    /// worker that scheduled it.
    func olderQueuedRun(than run: RunRecord) async throws(EngineError) -> RunRecord? {
        let queued = try await stored { () async throws(StateStoreError) in
            try await store.runs(matching: RunFilter(deployment: run.deployment, status: .queued, limit: 1_000))
        }
        let now = try await now()
        return queued.filter { $0.id < run.id && ($0.notBefore.map { $0 <= now } ?? true) }.min { $0.id < $1.id }
    }

    /// Another run of the same deployment is working: wait a poll interval
    /// for it, unless its worker is gone (nothing would ever finish it).
    /// The first time it waits for a given run, the observer hears which one.
    func waitBehindOtherRun(_ run: RunRecord, observer: (any RunObserver)?, announced: inout RecordID?) async throws(EngineError) {
        let active = try await stored { () async throws(StateStoreError) in
            try await store.runs(matching: RunFilter(deployment: run.deployment, status: .running, limit: 5))
                + store.runs(matching: RunFilter(deployment: run.deployment, status: .cancelling, limit: 5))
        }
        if let holder = active.first(where: { $0.id != run.id }), announced != holder.id {
            if announced == nil {
                // A renderer this process started for the run would idle (resident) through the wait.
                await engine.configuration.valuesRenderer?.release()
            }
            announced = holder.id
            observer?.waiting(for: holder.id, reason: "\(holder.hook.rawValue) of \(run.deployment) is \(holder.status.rawValue) (worker \(holder.leaseOwner?.description ?? "unknown"))")
        }
        if let blocker = try await engine.abandonedRun(ofDeployment: run.deployment), blocker.id != run.id {
            throw EngineError(.conflict, "run \(run.id) waits for run \(blocker.id) of deployment \(run.deployment), whose worker "
                + "(\(blocker.leaseOwner?.description ?? "unknown")) is gone; resume it with `flowrunner runs retry \(blocker.id)` "
                + "or stop it with `flowrunner runs cancel \(blocker.id)`")
        }
        try? await Task.sleep(for: configuration.pollInterval)
    }
}

/// How many workers work an attempt now.
final class BusyCount: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds `delta`; returns the new count.
    func add(_ delta: Int) -> Int { value.wrappingAdd(delta, ordering: .relaxed).newValue }
}

/// Set once when a graceful shutdown begins.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .relaxed) }

    func set() { value.store(true, ordering: .relaxed) }
}
