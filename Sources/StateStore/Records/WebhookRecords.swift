public import FlowModel
public import Foundation

/// A completion webhook: an endpoint that is told of every run's end.
///
/// Registered once per URL; only runs that end after it was registered are
/// delivered to it (a new webhook does not replay the store's history).
public struct WebhookRecord: Sendable, Hashable {
    public var id: RecordID
    /// The endpoint, as given (`http` or `https`).
    public var url: String
    /// When it was first registered.
    public var createdAt: Date

    /// Creates the record from its fields (the stores build it from their rows).
    public init(id: RecordID, url: String, createdAt: Date) {
        self.id = id
        self.url = url
        self.createdAt = createdAt
    }
}

/// Where a delivery stands: `pending` until the endpoint answered 2xx
/// (`delivered`) or the sender gave up (`failed`, after its retry window).
public enum WebhookDeliveryStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case pending, delivered, failed
}

/// One run's end, to be posted to one webhook: the event as it was when the
/// run ended (a later retry of the run is another event, with its own delivery).
public struct WebhookDeliveryRecord: Sendable, Hashable {
    public var id: RecordID
    /// The delivery's unique id (a UUID), sent as the `webhook-id` header:
    /// the same for every attempt, so a receiver can drop repeats.
    public var deliveryID: String
    public var webhookID: RecordID
    /// The webhook's URL.
    public var url: String
    public var runID: RecordID
    /// The run's deployment name and hook.
    public var deployment: String
    public var hook: Hook
    /// The run's attempt, status, error (JSON) and end time when it ended.
    public var runAttempt: Int
    public var runStatus: RunStatus
    public var runErrorJSON: String?
    public var runEndedAt: Date
    public var status: WebhookDeliveryStatus
    /// Attempts made so far (a claimed attempt counts before it is sent).
    public var attempts: Int
    /// When the next attempt is due; nil once delivered or given up.
    public var nextAttemptAt: Date?
    /// The HTTP status of the last answer; nil when there was none.
    public var lastStatusCode: Int?
    /// Why the last attempt failed; nil when it succeeded or none was made.
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    /// Creates the record from its fields (the stores build it from their rows).
    public init(
        id: RecordID, deliveryID: String, webhookID: RecordID, url: String, runID: RecordID, deployment: String, hook: Hook,
        runAttempt: Int, runStatus: RunStatus, runErrorJSON: String?, runEndedAt: Date, status: WebhookDeliveryStatus, attempts: Int,
        nextAttemptAt: Date?, lastStatusCode: Int?, lastError: String?, createdAt: Date, deliveredAt: Date?
    ) {
        self.id = id
        self.deliveryID = deliveryID
        self.webhookID = webhookID
        self.url = url
        self.runID = runID
        self.deployment = deployment
        self.hook = hook
        self.runAttempt = runAttempt
        self.runStatus = runStatus
        self.runErrorJSON = runErrorJSON
        self.runEndedAt = runEndedAt
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// What one attempt of a delivery came to.
public enum WebhookAttemptOutcome: Sendable, Hashable {
    /// The endpoint answered 2xx with this status.
    case delivered(statusCode: Int)
    /// It did not: `statusCode` when it answered, `error` says what went
    /// wrong; `retryAt` is when to try again, nil to give up (`failed`).
    case failed(statusCode: Int?, error: String, retryAt: Date?)
}
