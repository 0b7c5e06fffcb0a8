import AsyncHTTPClient
import CoreMetrics
import FlowModel
import FlowRunner
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
public import StateStore

/// The completion webhook of `serve --webhook`: posts each run's end, as
/// the store's outbox keeps it, to one endpoint, signed (``WebhookSigner``),
/// at least once (``WebhookConfiguration``), and records every attempt on
/// the delivery (listed on the run).
///
/// Several servers on one store may each run a sender for the same URL: a
/// run end gets one delivery per URL, and each attempt is claimed in the
/// store, so no two senders post it at once.
///
/// Every attempt is a `POST` with `content-type: application/json`, the body
/// of ``RunEndEvent/body(of:store:)``, and the Standard Webhooks headers
/// `webhook-id` (the delivery id, the same on every attempt),
/// `webhook-timestamp` (Unix seconds) and `webhook-signature`.
///
/// On graceful shutdown it makes one last pass (run ends recorded while the
/// scheduler drained), then stops; deliveries still pending are sent by the
/// next start, or by another server on the store.
public struct WebhookSender: Service {
    let store: any StateStore
    let configuration: WebhookConfiguration
    let logger: Logger

    public init(store: any StateStore, configuration: WebhookConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let webhook = try await store.registerWebhook(url: configuration.url.absoluteString)
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: HTTPClient.Configuration.Timeout(connect: requestTimeout, read: requestTimeout))
        // A refused connection is a failed attempt at once; the sender's own backoff retries it.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        logger.info("completion webhook", metadata: ["url": .string(RunEndEvent.shownURL(webhook.url))])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await pass(webhook: webhook, client: client)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.pollInterval) }
        }
        // One last batch, bounded by the request timeout: what is left waits for the next start.
        if !Task.isCancelled { await pass(webhook: webhook, client: client, batches: 1) }
        try? await client.shutdown()
    }

    /// ``WebhookConfiguration/requestTimeout`` as the client takes it.
    var requestTimeout: TimeAmount { .nanoseconds(Int64(configuration.requestTimeout.seconds * 1e9)) }

    /// Enqueues new run ends and sends the due deliveries, batch by batch
    /// (at most `batches` batches of ``WebhookConfiguration/concurrency``).
    func pass(webhook: WebhookRecord, client: HTTPClient, batches: Int = .max) async {
        do {
            while try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 500) == 500 {}
            // A claim outlives the attempt, so a crashed sender's deliveries come due again.
            let lease = configuration.requestTimeout + .seconds(60)
            for _ in 0..<batches {
                let due = try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: lease, limit: configuration.concurrency)
                guard !due.isEmpty else { return }
                await withTaskGroup(of: Void.self) { group in
                    for delivery in due {
                        group.addTask { await attempt(delivery, client: client) }
                    }
                }
                if Task.isCancelled { return }
            }
        } catch {
            logger.error("webhook deliveries cannot be read or written; trying again", metadata: ["error": "\(error)"])
        }
    }

    /// Posts one claimed delivery and records how it went.
    func attempt(_ delivery: WebhookDeliveryRecord, client: HTTPClient) async {
        var metadata: Logger.Metadata = ["run": "\(delivery.runID)", "delivery": .string(delivery.deliveryID), "attempt": "\(delivery.attempts)"]
        let outcome: WebhookAttemptOutcome
        do {
            // The whole attempt (connecting, sending, the answer's head and body) is bounded.
            let statusCode = try await Self.withTimeLimit(configuration.requestTimeout) {
                try await post(delivery, client: client)
            }
            metadata["status"] = "\(statusCode)"
            if (200..<300).contains(statusCode) {
                outcome = .delivered(statusCode: statusCode)
            } else {
                outcome = failure(delivery, statusCode: statusCode, error: "the endpoint answered HTTP \(statusCode)")
            }
        } catch {
            outcome = failure(delivery, statusCode: nil, error: Self.describe(error))
        }
        do {
            let recorded = try await store.recordWebhookAttempt(id: delivery.id, outcome: outcome)
            Counter(label: "flowrunner_webhook_attempts_total", dimensions: [("outcome", recorded.status.rawValue)]).increment()
            switch recorded.status {
            case .delivered: logger.info("webhook delivered", metadata: metadata)
            case .pending:
                metadata["retry_at"] = .string(recorded.nextAttemptAt.map(TimeText.rfc3339) ?? "-")
                logger.warning("webhook attempt failed: \(recorded.lastError ?? "")", metadata: metadata)
            case .failed: logger.error("webhook given up after its retry window: \(recorded.lastError ?? "")", metadata: metadata)
            }
        } catch {
            logger.error("webhook attempt not recorded (it will be tried again): \(error)", metadata: metadata)
        }
    }

    /// The failed outcome of an attempt: retried later, or given up past the window.
    func failure(_ delivery: WebhookDeliveryRecord, statusCode: Int?, error: String) -> WebhookAttemptOutcome {
        let now = Date()
        let retryAt = configuration.nextAttempt(after: delivery.attempts, since: delivery.createdAt, now: now)
        return .failed(statusCode: statusCode, error: error, retryAt: retryAt)
    }

    /// The result of `body`, or ``AttemptTimedOut`` once `limit` has passed
    /// (`body` is cancelled then: the client drops the connection).
    static func withTimeLimit<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else { throw AttemptTimedOut() }
            return result
        }
    }

    /// An attempt that took longer than the request timeout.
    struct AttemptTimedOut: Error, CustomStringConvertible {
        var description: String { "no complete answer within the request timeout" }
    }

    /// Sends the signed body; returns the answer's HTTP status.
    func post(_ delivery: WebhookDeliveryRecord, client: HTTPClient) async throws -> Int {
        let body = Array(try await RunEndEvent.body(of: delivery, store: store).jsonText.utf8)
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: configuration.endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "flowrunner-webhook")
        if let authorization = configuration.basicAuthorization { request.headers.add(name: "authorization", value: authorization) }
        request.headers.add(name: "webhook-id", value: delivery.deliveryID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: configuration.signer.signature(id: delivery.deliveryID, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: requestTimeout, logger: logger)
        // The answer's body is read (up to 64 KiB) so the connection can be reused, and otherwise ignored.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }

    /// A transport failure as one short line.
    static func describe(_ error: any Error) -> String {
        let text: String
        if error is AttemptTimedOut {
            text = "\(error)"
        } else if let error = error as? HTTPClientError {
            text = error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
                ? "no answer within the request timeout" : "\(error)"
        } else {
            text = "\(error)"
        }
        return String(text.prefix(500))
    }
}
