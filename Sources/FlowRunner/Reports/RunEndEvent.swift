public import FlowModel
import Foundation
public import StateStore

/// What a completion webhook is told, and what a run shows of its deliveries.
///
/// The body follows the Standard Webhooks payload shape
/// (`{"type", "timestamp", "data"}`, https://www.standardwebhooks.com):
/// `{"type": "run.ended", "timestamp": RFC 3339, "data": {"run": ID,
/// "deployment", "hook", "status", "attempt", "error": null | {...},
/// "ended_at": RFC 3339, "url": "/v1/runs/ID"}}`: the run as it was when it
/// ended (a retried run ends again, in another event), secret values `***`.
public enum RunEndEvent {
    /// The event type of a run's end.
    public static let type = "run.ended"

    /// The webhook body of `delivery`, with the secrets of its run masked.
    ///
    /// - Throws: ``StateStoreError`` when the store cannot be read.
    public static func body(of delivery: WebhookDeliveryRecord, store: any StateStore) async throws(StateStoreError) -> JSONValue {
        let masking = try await masking(runID: delivery.runID, store: store)
        return .object([
            "type": .string(type),
            "timestamp": RunReport.time(delivery.runEndedAt),
            "data": .object([
                "run": .int(Int(delivery.runID)),
                "deployment": .string(delivery.deployment),
                "hook": .string(delivery.hook.rawValue),
                "status": .string(delivery.runStatus.rawValue),
                "attempt": .int(delivery.runAttempt),
                "error": JSONValue(storedText: masking.json(delivery.runErrorJSON)) ?? .null,
                "ended_at": RunReport.time(delivery.runEndedAt),
                "url": .string("/v1/runs/\(delivery.runID)"),
            ]),
        ])
    }

    /// A delivery as a run lists it (`webhook_deliveries` of `runs show
    /// --output json`): `{"id", "url", "run_attempt", "run_status", "status",
    /// "attempts", "last_status_code", "last_error", "next_attempt_at",
    /// "delivered_at", "created_at"}`; the URL without credentials, query or fragment.
    public static func listing(_ delivery: WebhookDeliveryRecord) -> JSONValue {
        .object([
            "id": .string(delivery.deliveryID),
            "url": .string(shownURL(delivery.url)),
            "run_attempt": .int(delivery.runAttempt),
            "run_status": .string(delivery.runStatus.rawValue),
            "status": .string(delivery.status.rawValue),
            "attempts": .int(delivery.attempts),
            "last_status_code": delivery.lastStatusCode.map(JSONValue.int) ?? .null,
            "last_error": delivery.lastError.map(JSONValue.string) ?? .null,
            "next_attempt_at": RunReport.time(delivery.nextAttemptAt),
            "delivered_at": RunReport.time(delivery.deliveredAt),
            "created_at": RunReport.time(delivery.createdAt),
        ])
    }

    /// `url` as logs and listings show it: scheme, host and port, and `/…`
    /// for a path; user, password, path, query and fragment may all carry a
    /// secret (Slack-style URLs keep theirs in the path).
    public static func shownURL(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return "(a URL, not shown)"
        }
        var shown = scheme + "://" + (host.contains(":") ? "[\(host)]" : host)
        if let port = components.port { shown += ":\(port)" }
        let path = components.percentEncodedPath
        return shown + (path.isEmpty || path == "/" ? path : "/…")
    }

    /// The masking of a run's secret parameters and config values.
    static func masking(runID: RecordID, store: any StateStore) async throws(StateStoreError) -> SecretMasking {
        guard let run = try await store.run(id: runID) else { return SecretMasking(texts: []) }
        return try await SecretMasking.load(for: run, from: store).masking
    }
}
