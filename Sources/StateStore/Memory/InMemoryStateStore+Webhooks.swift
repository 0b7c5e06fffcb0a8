import FlowModel
import Foundation

extension InMemoryStateStore {
    /// Keeps a run's end in the outbox, as SQLite's `runs_record_end` trigger does.
    func recordRunEnd(_ runID: RecordID) {
        guard let row = tables.runs[runID], row.status.isFinished else { return }
        tables.runEnds.append(RunEndRow(id: tables.nextRunEndID, runID: runID, attempt: row.attempt, status: row.status,
                                        errorJSON: row.errorJSON, endedAt: row.endedAt ?? 0))
        tables.nextRunEndID += 1
        // As the `runs_record_attempt_end` trigger: the failing action's error as it is now.
        let action = (JSONValue(storedText: row.errorJSON)?["action"]).flatMap(\.stringValue)
        let actionError = action.flatMap { name in
            tables.actionRuns.rows.first { $0.runID == runID && StoredText.same($0.name, name) }?.errorJSON
        }
        tables.attemptEnds.append(AttemptEndRow(runID: runID, end: AttemptEnd(
            attempt: row.attempt, endedBy: .end, status: row.status, errorJSON: row.errorJSON, actionErrorJSON: actionError,
            endedAt: Date(storedValue: row.endedAt ?? 0))))
    }

    /// Keeps how `runID`'s current attempt ended when it is handed to the
    /// next without an end: a flow's retry with `failure`, else a recovery.
    func recordHandOff(_ runID: RecordID, failure: AttemptFailure?, now: Date) {
        guard let run = tables.runs[runID].flatMap(runRecord) else { return }
        tables.attemptEnds.append(AttemptEndRow(runID: runID, end: .handedOn(run, failure: failure, now: now)))
    }

    public func registerWebhook(url: String) async throws(StateStoreError) -> WebhookRecord {
        if let existing = tables.webhooks.rows.first(where: { StoredText.same($0.record.url, url) }) {
            return existing.record
        }
        let cursor = tables.runEnds.last?.id ?? 0
        let createdAt = clock.now.asStored
        return tables.webhooks.insert { id in
            WebhookRow(record: WebhookRecord(id: id, url: url, createdAt: createdAt), cursor: cursor)
        }.record
    }

    public func enqueueWebhookDeliveries(webhookID: RecordID, limit: Int) async throws(StateStoreError) -> Int {
        guard let webhook = tables.webhooks[webhookID] else { throw failure(.notFound, "no webhook \(webhookID)") }
        let now = clock.now.storedValue
        let ends = tables.runEnds.filter { $0.id > webhook.cursor }.prefix(max(0, limit))
        for end in ends where !tables.webhookDeliveries.rows.contains(where: { $0.webhookID == webhookID && $0.runEndID == end.id }) {
            tables.webhookDeliveries.insert { id in
                WebhookDeliveryRow(
                    id: id, deliveryID: UUID().uuidString.lowercased(), webhookID: webhookID, runEndID: end.id, runID: end.runID,
                    runAttempt: end.attempt, runStatus: end.status, runErrorJSON: end.errorJSON, runEndedAt: end.endedAt,
                    status: .pending, attempts: 0, nextAttemptAt: now, lastStatusCode: nil, lastError: nil, createdAt: now, deliveredAt: nil
                )
            }
        }
        if let last = ends.last {
            tables.webhooks.update(webhookID) { $0.cursor = last.id }
        }
        return ends.count
    }

    public func claimWebhookDeliveries(
        webhookID: RecordID, leaseDuration: Duration, limit: Int
    ) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        let now = clock.now.storedValue
        let until = clock.now.addingTimeInterval(leaseDuration.seconds).storedValue
        let due = tables.webhookDeliveries.rows
            .filter { $0.webhookID == webhookID && $0.status == .pending && ($0.nextAttemptAt.map { $0 <= now } ?? false) }
            .sorted { ($0.nextAttemptAt ?? 0, $0.id) < ($1.nextAttemptAt ?? 0, $1.id) }
            .prefix(max(0, limit))
        return due.compactMap { row in
            tables.webhookDeliveries.update(row.id) { row in
                row.attempts += 1
                row.nextAttemptAt = until
            }.flatMap(deliveryRecord)
        }
    }

    public func recordWebhookAttempt(id: RecordID, outcome: WebhookAttemptOutcome) async throws(StateStoreError) -> WebhookDeliveryRecord {
        guard let row = tables.webhookDeliveries[id], let record = deliveryRecord(row) else {
            throw failure(.notFound, "no webhook delivery \(id)")
        }
        guard row.status == .pending else { return record }
        let now = clock.now.storedValue
        let updated = tables.webhookDeliveries.update(id) { row in
            switch outcome {
            case .delivered(let statusCode):
                row.status = .delivered
                row.nextAttemptAt = nil
                row.lastStatusCode = statusCode
                row.lastError = nil
                row.deliveredAt = now
            case .failed(let statusCode, let error, let retryAt):
                row.status = retryAt == nil ? .failed : .pending
                row.nextAttemptAt = retryAt?.storedValue
                row.lastStatusCode = statusCode
                row.lastError = error
            }
        }
        return updated.flatMap(deliveryRecord) ?? record
    }

    public func webhookDeliveries(runID: RecordID) async throws(StateStoreError) -> [WebhookDeliveryRecord] {
        tables.webhookDeliveries.rows.filter { $0.runID == runID }.compactMap(deliveryRecord)
    }

    /// The record of a stored delivery with its webhook's URL and its run's
    /// deployment and hook; nil (as SQLite's join would drop it) when one is missing.
    func deliveryRecord(_ row: WebhookDeliveryRow) -> WebhookDeliveryRecord? {
        guard let webhook = tables.webhooks[row.webhookID], let run = tables.runs[row.runID],
              let deployment = tables.deployments[run.deploymentID] else { return nil }
        return WebhookDeliveryRecord(
            id: row.id, deliveryID: row.deliveryID, webhookID: row.webhookID, url: webhook.record.url, runID: row.runID,
            deployment: deployment.name, hook: run.hook, runAttempt: row.runAttempt, runStatus: row.runStatus,
            runErrorJSON: row.runErrorJSON, runEndedAt: Date(storedValue: row.runEndedAt), status: row.status,
            attempts: row.attempts, nextAttemptAt: row.nextAttemptAt.map(Date.init(storedValue:)), lastStatusCode: row.lastStatusCode,
            lastError: row.lastError, createdAt: Date(storedValue: row.createdAt), deliveredAt: row.deliveredAt.map(Date.init(storedValue:))
        )
    }
}
