public import StateStore

extension Engine {
    /// Replay policy of a retry.
    public enum ReplayMode: Sendable, Hashable {
        /// Replay every matching step (the default).
        case matching
        /// Replay only steps before this sequence number.
        case fromStep(Int)
        /// Replay nothing.
        case restart
    }

    /// Starts the next attempt of a failed, cancelled or abandoned run
    /// (`driverVersion`: nil keeps the run's, 0 the newest loaded, N that
    /// version). A queued run is returned as it is, for the caller to work
    /// (its creator may have died before claiming it). Throws
    /// ``EngineError/Code/notFound`` for an unknown run or driver version and
    /// ``EngineError/Code/conflict`` for a run that succeeded, is still worked
    /// by a live worker, or is queued and a replay policy or driver version was asked.
    /// What ``requestRetry(runID:replay:driverVersion:)`` would do, without
    /// doing it (nothing is written). Throws what it would throw, and
    /// ``EngineError/Code/conflict`` for a run a retry cannot start (it
    /// succeeded, or is queued or worked).
    public func planRetry(runID: RecordID, replay: ReplayMode = .matching, driverVersion: Int? = nil) async throws(EngineError) -> RetryPlan {
        guard let run = try await stored({ () async throws(StateStoreError) in try await store.run(id: runID) }) else {
            throw EngineError(.notFound, "no run \(runID)")
        }
        if let driverVersion, let deployment = try await stored({ () async throws(StateStoreError) in try await store.deployment(id: run.deploymentID) }) {
            _ = try await loadDriver(versionID: try await selectDriverVersion(deployment: deployment, number: driverVersion))
        }
        let now = try await stored { () async throws(StateStoreError) in try await store.currentTime() }
        let abandoned = (run.status == .running || run.status == .cancelling) && run.isAbandoned(now: now)
        guard run.status == .failed || run.status == .cancelled || abandoned else {
            throw EngineError(.conflict, "run \(runID) is \(run.status.rawValue): a retry starts the next attempt of a failed, cancelled or abandoned run")
        }
        return try await stored { () async throws(StateStoreError) in try await RetryPlan.load(run: run, replay: replay, store: store) }
    }

    public func requestRetry(runID: RecordID, replay: ReplayMode = .matching, driverVersion: Int? = nil) async throws(EngineError) -> RunRecord {
        guard let run = try await stored({ () async throws(StateStoreError) in try await store.run(id: runID) }) else {
            throw EngineError(.notFound, "no run \(runID)")
        }
        // A queued run no one is working (its creator died before claiming it)
        // is worked as it is: the caller claims it, no new attempt.
        if run.status == .queued {
            guard case .matching = replay, driverVersion == nil else {
                throw EngineError(.conflict, "run \(runID) is queued and has not started: retry it without --from-step, --restart or --driver-version to work it as it is")
            }
            return run
        }
        let owner = try await stored { () async throws(StateStoreError) in try await store.deployment(id: run.deploymentID) }
        if let owner, owner.deletedAt != nil, run.hook != .delete {
            throw EngineError(.conflict, "run \(runID) is a \(run.hook.rawValue) of deployment \(owner.name), which was deleted; it can no longer run")
        }
        var versionID: RecordID?
        if let driverVersion, let deployment = owner {
            let selected = try await selectDriverVersion(deployment: deployment, number: driverVersion)
            // A retry onto a driver version that no longer allows the deployment's inputs is refused, as an upgrade is.
            try Self.checkComponentInputs(of: deployment, against: try await loadDriver(versionID: selected))
            versionID = selected
        }
        // Other action code may call differently: replay stops at the first call that does not match.
        let strict = versionID != nil
        let policy: String? = switch replay {
        case .matching: ReplayPolicy(beforeStep: nil, restart: false, stopsAtDivergence: strict).storedJSON
        case .fromStep(let step): ReplayPolicy(beforeStep: step, restart: false, stopsAtDivergence: strict).storedJSON
        case .restart: ReplayPolicy(beforeStep: nil, restart: true).storedJSON
        }
        let abandoned = run.leaseOwner.flatMap { $0.isKnownGone ? $0 : nil }
        return try await stored { () async throws(StateStoreError) in
            try await store.retryRun(id: runID, replayJSON: policy, driverVersionID: versionID, notBefore: nil, abandonedOwner: abandoned)
        }
    }

    /// Asks a run to stop (see ``RunControl/cancel(runID:)``).
    public func requestCancel(runID: RecordID) async throws(EngineError) -> RunRecord {
        try await RunControl(store: store).cancel(runID: runID)
    }
}

/// Requests on runs that need only the state store (no action runner, no
/// cluster), usable from any process that opens it.
public struct RunControl: Sendable {
    /// The state store.
    public let store: any StateStore

    /// Control over the runs in `store`.
    public init(store: any StateStore) {
        self.store = store
    }

    func stored<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        try await EngineError.storing(body)
    }

    /// Asks a run to stop, from any process: a queued run is cancelled at
    /// once; a running one becomes `cancelling` and its worker stops the
    /// action, which ends the run `cancelled`; a running run whose worker is
    /// gone is cancelled at once. Throws ``EngineError/Code/notFound`` for an
    /// unknown run and ``EngineError/Code/conflict`` for one that ended.
    public func cancel(runID: RecordID) async throws(EngineError) -> RunRecord {
        guard let run = try await stored({ () async throws(StateStoreError) in try await store.run(id: runID) }) else {
            throw EngineError(.notFound, "no run \(runID)")
        }
        switch run.status {
        case .queued:
            return try await stored { () async throws(StateStoreError) in
                try await store.changeRunStatus(id: runID, to: .cancelled, errorJSON: #"{"message":"cancelled before it started","type":"Cancelled"}"#)
            }
        case .running, .cancelling:
            // A worker that is gone cannot stop anything: end the run at once.
            if run.isAbandoned(now: try await stored { () async throws(StateStoreError) in try await store.currentTime() }) {
                return try await stored { () async throws(StateStoreError) in
                    if run.status == .running { try await store.changeRunStatus(id: runID, to: .cancelling) }
                    return try await store.changeRunStatus(id: runID, to: .cancelled, errorJSON: #"{"message":"cancelled; its worker was gone","type":"Cancelled"}"#)
                }
            }
            if run.status == .cancelling { return run }
            return try await stored { () async throws(StateStoreError) in try await store.changeRunStatus(id: runID, to: .cancelling) }
        case .succeeded, .failed, .cancelled:
            throw EngineError(.conflict, "run \(runID) already ended (\(run.status.rawValue)); nothing to cancel")
        }
    }
}
