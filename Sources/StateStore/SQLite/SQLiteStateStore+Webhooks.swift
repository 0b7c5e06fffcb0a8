import Foundation
import GRDB

extension SQLiteStateStore {
    static let deliveryColumns = """
        d.*, w.url AS webhook_url, deployments.name AS deployment_name, runs.hook AS run_hook
        """
    static let deliveryFrom = """
        webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN runs ON runs.id = d.run_id
        JOIN deployments ON deployments.id = runs.deployment_id
        """

    public func registerWebhook(url: String) async throws(StateStoreError) -> WebhookRecord {
        let now = clock.now
        return try await write { db in
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM webhooks WHERE url = ?"), arguments: [url]) {
                return WebhookRecord(row: row)
            }
            // Runs that ended before the webhook existed are not its business.
            let cursor = try RecordID.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(id), 0) FROM run_ends")) ?? 0
            try db.cachedStatement(sql: "INSERT INTO webhooks (url, cursor, created_at) VALUES (?, ?, ?)").execute(arguments: [url, cursor, now.storedValue])
            return WebhookRecord(id: db.lastInsertedRowID, url: url, createdAt: now.asStored)
        }
    }

    public func enqueueWebhookDeliveries(webhookID: RecordID, limit: Int) async throws(StateStoreError) -> Int {
        let now = clock.now
        let path = path
        return try await write { db in
            guard let cursor = try RecordID.fetchOne(db.cachedStatement(sql: "SELECT cursor FROM webhooks WHERE id = ?"), arguments: [webhookID]) else {
                throw StateStoreError(.notFound, location: path, "no webhook \(webhookID)")
            }
            let ends = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM run_ends WHERE id > ? ORDER BY id LIMIT ?"),
                                        arguments: [cursor, max(0, limit)])
            for end in ends {
                try db.cachedStatement(sql: """
                        INSERT OR IGNORE INTO webhook_deliveries (delivery_id, webhook_id, run_end_id, run_id, run_attempt, run_status,
                            run_error, run_ended_at, status, attempts, next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                        """).execute(arguments: [UUID().uuidString.lowercased(), webhookID, end["id"] as RecordID, end["run_id"] as RecordID,
                                end["attempt"] as Int, end["status"] as String, end["error"] as String?, end["ended_at"] as Double,
                                now.storedValue, now.storedValue]
                )
            }
            if let last = ends.last {
                try db.cachedStatement(sql: "UPDATE webhooks SET cursor = ? WHERE id = ?").execute(arguments: [last["id"] as RecordID, webhookID])
            }
            return ends.count
        }
    }

    public func claimWebhookDeliveries(
        webhookID: RecordID, leaseDuration: Duration, limit: Int
    ) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        let now = clock.now
        let until = now.addingTimeInterval(leaseDuration.seconds)
        return try await write { db in
            let ids = try RecordID.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM webhook_deliveries
                WHERE webhook_id = ? AND status = 'pending' AND next_attempt_at <= ?
                ORDER BY next_attempt_at, id LIMIT ?
                """), arguments: [webhookID, now.storedValue, max(0, limit)])
            return try ids.compactMap { id in
                try db.cachedStatement(sql: "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?").execute(arguments: [until.storedValue, id])
                return try Self.fetchDelivery(db, id: id)
            }
        }
    }

    public func recordWebhookAttempt(id: RecordID, outcome: WebhookAttemptOutcome) async throws(StateStoreError) -> WebhookDeliveryRecord {
        let now = clock.now
        let path = path
        return try await write { db in
            guard let delivery = try Self.fetchDelivery(db, id: id) else {
                throw StateStoreError(.notFound, location: path, "no webhook delivery \(id)")
            }
            guard delivery.status == .pending else { return delivery }
            switch outcome {
            case .delivered(let statusCode):
                try db.cachedStatement(sql: """
                    UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL, last_status_code = ?,
                        last_error = NULL, delivered_at = ? WHERE id = ?
                    """).execute(arguments: [statusCode, now.storedValue, id])
            case .failed(let statusCode, let error, let retryAt):
                try db.cachedStatement(sql: """
                    UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status_code = ?, last_error = ? WHERE id = ?
                    """).execute(arguments: [retryAt == nil ? "failed" : "pending", retryAt?.storedValue, statusCode, error, id])
            }
            guard let updated = try Self.fetchDelivery(db, id: id) else {
                throw StateStoreError(.notFound, location: path, "no webhook delivery \(id)")
            }
            return updated
        }
    }

    public func webhookDeliveries(runID: RecordID) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(Self.deliveryColumns) FROM \(Self.deliveryFrom) WHERE d.run_id = ? ORDER BY d.id"),
                             arguments: [runID]).map(WebhookDeliveryRecord.init(row:))
        }
    }

    static func fetchDelivery(_ db: Database, id: RecordID) throws -> WebhookDeliveryRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(deliveryColumns) FROM \(deliveryFrom) WHERE d.id = ?"), arguments: [id])
            .map(WebhookDeliveryRecord.init(row:))
    }
}

extension WebhookRecord {
    init(row: Row) {
        self.init(id: row["id"], url: row["url"], createdAt: Date(storedValue: row["created_at"]))
    }
}

extension WebhookDeliveryRecord {
    init(row: Row) throws {
        try self.init(
            id: row["id"], deliveryID: row["delivery_id"], webhookID: row["webhook_id"], url: row["webhook_url"],
            runID: row["run_id"], deployment: row["deployment_name"], hook: row.word("run_hook", of: "runs"),
            runAttempt: row["run_attempt"], runStatus: row.word("run_status", of: "webhook_deliveries"),
            runErrorJSON: row["run_error"], runEndedAt: Date(storedValue: row["run_ended_at"]),
            status: row.word("status", of: "webhook_deliveries"), attempts: row["attempts"],
            nextAttemptAt: row.date("next_attempt_at"), lastStatusCode: row["last_status_code"], lastError: row["last_error"],
            createdAt: Date(storedValue: row["created_at"]), deliveredAt: row.date("delivered_at")
        )
    }
}
