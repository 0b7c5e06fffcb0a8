public import StateStore

/// Requests on runs that need no action runner (cancel), usable from any
/// process that opens the state store.
public struct RunControl: Sendable {
    /// The state store.
    public let store: StateStore

    /// Control over the runs in `store`.
    public init(store: StateStore) {
        self.store = store
    }

    /// Asks a run to stop: a queued run is cancelled at once, a running one
    /// becomes `cancelling` and its worker (in any process) stops the action,
    /// which ends the run as `cancelled`.
    public func cancel(runID: RecordID) throws(EngineError) -> RunRecord {
        do {
            guard let run = try store.run(id: runID) else {
                throw EngineError(.notFound, "no run \(runID)")
            }
            switch run.status {
            case .queued:
                return try store.changeRunStatus(id: runID, to: .cancelled, errorJSON: #"{"message":"cancelled before it started","type":"Cancelled"}"#)
            case .running, .cancelling:
                // A worker that is gone cannot stop anything: end the run at once.
                if Engine.isAbandoned(run) {
                    if run.status == .running { _ = try store.changeRunStatus(id: runID, to: .cancelling) }
                    return try store.changeRunStatus(id: runID, to: .cancelled, errorJSON: #"{"message":"cancelled; its worker was gone","type":"Cancelled"}"#)
                }
                return run.status == .running ? try store.changeRunStatus(id: runID, to: .cancelling) : run
            case .succeeded, .failed, .cancelled:
                throw EngineError(.conflict, "run \(runID) already ended (\(run.status.rawValue)); nothing to cancel")
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.failed, "\(error)")
        }
    }
}
