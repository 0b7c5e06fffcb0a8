import Foundation
import PostgresNIO
public import StateStore

extension PostgresStateStore {
    /// The joined columns of a delivery (`FROM` a relation named `d`: the table, or the rows a statement changed).
    private static func deliverySelect(from source: String) -> String {
        """
        SELECT d.*, w.url AS webhook_url, deployments.name AS deployment_name, runs.hook AS run_hook
        FROM \(source) d JOIN webhooks w ON w.id = d.webhook_id JOIN runs ON runs.id = d.run_id
        JOIN deployments ON deployments.id = runs.deployment_id
        """
    }

    /// Registers the webhook at `url`; the same URL again returns the stored
    /// one unchanged. Its cursor starts after the newest run end (taken under
    /// the outbox lock, so an end committing meanwhile is either before it or delivered).
    public func registerWebhook(url: String) async throws(StateStoreError) -> WebhookRecord {
        let now = fixedNow
        return try await transaction { sql in
            if let row = try await sql.rows("SELECT * FROM webhooks WHERE url = \(url)").first { return try WebhookRecord(row: row) }
            try await sql.execute("SELECT pg_advisory_xact_lock(\(PostgresMigrations.runEndsLock))")
            let rows = try await sql.rows("""
                INSERT INTO webhooks (url, cursor, created_at)
                SELECT \(url), COALESCE(MAX(id), 0), \(now: now) FROM run_ends
                ON CONFLICT (url) DO NOTHING RETURNING *
                """)
            if let row = rows.first { return try WebhookRecord(row: row) }
            // Registered by another process meanwhile.
            guard let row = try await sql.rows("SELECT * FROM webhooks WHERE url = \(url)").first else {
                throw self.refusal(.database, "the webhook \(url) was neither stored nor found")
            }
            return try WebhookRecord(row: row)
        }
    }

    /// Creates a `pending` delivery, due now, for each run end the webhook
    /// has not seen yet, oldest first, at most `limit`; returns how many run
    /// ends it went through. Holds the outbox lock exclusively: every run end
    /// whose transaction started before is committed, and later ones get
    /// higher ids, so the cursor never passes an end still to come. At most
    /// one delivery per run end and webhook (a unique constraint), however
    /// many senders call this at once. An unknown webhook throws ``StateStoreError/Code/notFound``.
    @discardableResult
    public func enqueueWebhookDeliveries(webhookID: RecordID, limit: Int) async throws(StateStoreError) -> Int {
        let now = fixedNow
        return try await transaction { sql in
            try await sql.execute("SELECT pg_advisory_xact_lock(\(PostgresMigrations.runEndsLock))")
            guard let webhook = try await sql.rows("SELECT cursor FROM webhooks WHERE id = \(webhookID) FOR UPDATE").first else {
                throw self.refusal(.notFound, "no webhook \(webhookID)")
            }
            let cursor = try webhook.value("cursor", as: RecordID.self)
            let rows = try await sql.rows("""
                WITH ends AS (SELECT * FROM run_ends WHERE id > \(cursor) ORDER BY id LIMIT \(max(0, limit))),
                added AS (
                    INSERT INTO webhook_deliveries (delivery_id, webhook_id, run_end_id, run_id, run_attempt, run_status, run_error, run_ended_at,
                                                    status, attempts, next_attempt_at, created_at)
                    SELECT gen_random_uuid()::text, \(webhookID), e.id, e.run_id, e.attempt, e.status, e.error, e.ended_at,
                           'pending', 0, \(now: now), \(now: now)
                    FROM ends e ORDER BY e.id
                    ON CONFLICT (webhook_id, run_end_id) DO NOTHING),
                moved AS (UPDATE webhooks SET cursor = (SELECT MAX(id) FROM ends) WHERE id = \(webhookID) AND EXISTS (SELECT 1 FROM ends))
                SELECT count(*)::bigint AS count FROM ends
                """)
            return try rows.first?.value("count", as: Int.self) ?? 0
        }
    }

    /// Claims up to `limit` pending deliveries of the webhook that are due,
    /// oldest due first (`FOR UPDATE SKIP LOCKED`: senders never wait for
    /// each other): each counts an attempt and is not due again until now +
    /// `leaseDuration`.
    public func claimWebhookDeliveries(webhookID: RecordID, leaseDuration: Duration, limit: Int) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        let now = fixedNow
        let rows = try await query("""
            WITH picked AS (
                SELECT id, next_attempt_at AS due FROM webhook_deliveries
                WHERE webhook_id = \(webhookID) AND status = 'pending' AND next_attempt_at <= \(now: now)
                ORDER BY next_attempt_at, id LIMIT \(max(0, limit)) FOR UPDATE SKIP LOCKED),
            changed AS (
                UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = \(now: now) + \(leaseDuration.seconds)
                FROM picked WHERE webhook_deliveries.id = picked.id
                RETURNING webhook_deliveries.*, picked.due)
            \(unescaped: Self.deliverySelect(from: "changed"))
            ORDER BY d.due, d.id
            """)
        return try decode(rows, WebhookDeliveryRecord.init(row:))
    }

    /// Records how a claimed attempt went: `delivered`, `pending` again at
    /// `retryAt`, or `failed` (given up). A delivery already delivered or
    /// failed is returned as it is; an unknown id throws ``StateStoreError/Code/notFound``.
    @discardableResult
    public func recordWebhookAttempt(id: RecordID, outcome: WebhookAttemptOutcome) async throws(StateStoreError) -> WebhookDeliveryRecord {
        let now = fixedNow
        let change: PostgresQuery = switch outcome {
        case .delivered(let statusCode):
            """
            WITH changed AS (
                UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL, last_status_code = \(statusCode),
                    last_error = NULL, delivered_at = \(now: now)
                WHERE id = \(id) AND status = 'pending' RETURNING *)
            \(unescaped: Self.deliverySelect(from: "changed"))
            """
        case .failed(let statusCode, let error, let retryAt):
            """
            WITH changed AS (
                UPDATE webhook_deliveries SET status = \(retryAt == nil ? "failed" : "pending"), next_attempt_at = \(retryAt?.epochSeconds)::float8,
                    last_status_code = \(statusCode)::bigint, last_error = \(error)
                WHERE id = \(id) AND status = 'pending' RETURNING *)
            \(unescaped: Self.deliverySelect(from: "changed"))
            """
        }
        if let changed = try decode(try await query(change), WebhookDeliveryRecord.init(row:)).first { return changed }
        let rows = try await query("\(unescaped: Self.deliverySelect(from: "webhook_deliveries")) WHERE d.id = \(id)")
        guard let delivery = try decode(rows, WebhookDeliveryRecord.init(row:)).first else {
            throw refusal(.notFound, "no webhook delivery \(id)")
        }
        return delivery
    }

    /// The deliveries of a run's ends, oldest first.
    public func webhookDeliveries(runID: RecordID) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        let rows = try await query("\(unescaped: Self.deliverySelect(from: "webhook_deliveries")) WHERE d.run_id = \(runID) ORDER BY d.id")
        return try decode(rows, WebhookDeliveryRecord.init(row:))
    }
}
