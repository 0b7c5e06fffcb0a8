public import Foundation
import FlowModel

/// How one attempt of a run ended, kept when it ended and never changed:
/// a retry overwrites the run's own status and error, not its attempts' ends.
///
/// An attempt ends when its run goes to `succeeded`, `failed` or
/// `cancelled` (``AttemptEndKind/end``), or when it is handed straight to
/// the next attempt: by the flow's own retry (`@flow(retries=N)`,
/// ``AttemptEndKind/retry``) or by the recovery of a run whose worker died
/// (``AttemptEndKind/recovery``). Each is written in the same transaction
/// as the run's change, whichever process makes it.
public struct AttemptEnd: Sendable, Hashable {
    /// The attempt that ended (1, 2, ...).
    public var attempt: Int
    /// How it ended: the run's end, or handed on by a retry or a recovery.
    public var endedBy: AttemptEndKind
    /// `succeeded`, `failed` or `cancelled` for an end; `failed` for an
    /// attempt handed on (it did not finish its work).
    public var status: RunStatus
    /// The run's error when the attempt ended (JSON, as ``RunRecord/errorJSON``,
    /// `action` naming the failing action); for a recovery, why the worker
    /// was given up (`{"type": "LeaseExpired", "message": ...}`); nil if none.
    public var errorJSON: String?
    /// The failing action's own error as it was then (JSON, as
    /// ``ActionRunRecord/errorJSON``, with its traceback when it has one);
    /// nil when no action failed, or for ends recorded before it was kept.
    public var actionErrorJSON: String?
    /// When it ended, by the store's clock.
    public var endedAt: Date

    /// Creates the record from its fields (the stores build it from their rows).
    public init(attempt: Int, endedBy: AttemptEndKind = .end, status: RunStatus, errorJSON: String?, actionErrorJSON: String? = nil,
                endedAt: Date) {
        self.attempt = attempt
        self.endedBy = endedBy
        self.status = status
        self.errorJSON = errorJSON
        self.actionErrorJSON = actionErrorJSON
        self.endedAt = endedAt
    }
}

extension AttemptEnd {
    /// The end of `run`'s current attempt when it is handed to the next
    /// without a run end, as every store keeps it: a flow's retry
    /// (``AttemptEndKind/retry``) with `failure`'s errors, else a recovery
    /// (``AttemptEndKind/recovery``) saying whose lease was given up
    /// (``AttemptFailure/recoveryErrorJSON(owner:leaseExpiresAt:now:)``);
    /// `failed` at `now`, by the store's clock.
    public static func handedOn(_ run: RunRecord, failure: AttemptFailure?, now: Date) -> AttemptEnd {
        let error = failure?.errorJSON
            ?? AttemptFailure.recoveryErrorJSON(owner: run.leaseOwner?.description, leaseExpiresAt: run.leaseExpiresAt, now: now)
        return AttemptEnd(attempt: run.attempt, endedBy: failure == nil ? .recovery : .retry, status: .failed, errorJSON: error,
                          actionErrorJSON: failure?.actionErrorJSON, endedAt: now)
    }
}

/// What ended an attempt (``AttemptEnd/endedBy``); stored as its raw value.
public enum AttemptEndKind: String, Sendable, Hashable, CaseIterable {
    /// The run ended (`succeeded`, `failed` or `cancelled`).
    case end
    /// The flow's own retry (`@flow(retries=N)`) began the next attempt after an action failed.
    case retry
    /// The run's worker was given up (its lease expired, or its process is
    /// known to be gone) and the run went back to the queue.
    case recovery
}

/// The error an attempt that a flow's own retry hands on ended with (see
/// ``StateStore/retryRun(id:replayJSON:driverVersionID:notBefore:abandonedOwner:handingOn:)``).
public struct AttemptFailure: Sendable, Hashable {
    /// The error as the run would have kept it had it ended (JSON with `action`, `type`, `message`).
    public var errorJSON: String
    /// The failing action's own error (JSON, with its traceback when it has one).
    public var actionErrorJSON: String?

    /// The failure from its two errors.
    public init(errorJSON: String, actionErrorJSON: String?) {
        self.errorJSON = errorJSON
        self.actionErrorJSON = actionErrorJSON
    }

    /// The error of a recovery: `{"type": "LeaseExpired", "message": "lease
    /// of worker W expired at T"}`, or that the worker's process is gone
    /// when it was given up before its lease expired.
    public static func recoveryErrorJSON(owner: String?, leaseExpiresAt: Date?, now: Date) -> String {
        let worker = owner.map { "worker \($0)" } ?? "its worker"
        let (type, message): (String, String)
        if let expiry = leaseExpiresAt, expiry < now {
            (type, message) = ("LeaseExpired", "lease of \(worker) expired at \(expiry.formatted(.iso8601))")
        } else if let expiry = leaseExpiresAt {
            (type, message) = ("WorkerGone", "\(worker) is gone (its process ended) before its lease ran out at \(expiry.formatted(.iso8601))")
        } else {
            (type, message) = ("LeaseExpired", "\(worker) held no lease")
        }
        return JSONValue.object(["type": .string(type), "message": .string(message)]).jsonText
    }
}
