import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: completion webhook deliveries")
struct WebhookConformance {
    @Test("every run end after registration gets one delivery with the end as it was; earlier ends get none", arguments: StoreKind.allCases)
    func enqueueEnds(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let before = try await store.makeRun(deployment)
            try await store.changeRunStatus(id: before.id, to: .running)
            try await store.changeRunStatus(id: before.id, to: .succeeded)

            let webhook = try await store.registerWebhook(url: "http://127.0.0.1:9/hook")
            #expect(try await store.registerWebhook(url: "http://127.0.0.1:9/hook") == webhook)
            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10) == 0)

            let run = try await store.makeRun(deployment)
            try await store.changeRunStatus(id: run.id, to: .running)
            time.advance(by: 2)
            try await store.changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"boom"}"#)
            // The failed attempt is retried and succeeds: a second end, its own delivery.
            try await store.retryRun(id: run.id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
            try await store.changeRunStatus(id: run.id, to: .running)
            try await store.changeRunStatus(id: run.id, to: .succeeded)

            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 1) == 1)
            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10) == 1)
            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10) == 0)
            let deliveries = try await store.webhookDeliveries(runID: run.id)
            #expect(deliveries.map(\.runAttempt) == [1, 2])
            #expect(deliveries.map(\.runStatus) == [.failed, .succeeded])
            #expect(deliveries[0].runErrorJSON == #"{"message":"boom"}"#)
            #expect(deliveries.allSatisfy { $0.status == .pending && $0.attempts == 0 && $0.url == "http://127.0.0.1:9/hook" })
            #expect(deliveries.allSatisfy { $0.deployment == "app" && $0.hook == .upgrade })
            #expect(Set(deliveries.map(\.deliveryID)).count == 2)
            #expect(try await store.webhookDeliveries(runID: before.id).isEmpty)
        }
    }

    @Test("a claimed delivery is not due again until its lease ends; outcomes deliver, reschedule or give up", arguments: StoreKind.allCases)
    func claimAndRecord(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let webhook = try await store.registerWebhook(url: "https://example.invalid/hook")
            var runs: [RunRecord] = []
            for _ in 0..<3 {
                let run = try await store.makeRun(deployment)
                try await store.changeRunStatus(id: run.id, to: .cancelled)
                runs.append(run)
            }
            try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10)

            let claimed = try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: .seconds(30), limit: 2)
            #expect(claimed.map(\.runID) == [runs[0].id, runs[1].id])
            #expect(claimed.allSatisfy { $0.attempts == 1 })
            let rest = try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: .seconds(30), limit: 10)
            #expect(rest.map(\.runID) == [runs[2].id])
            #expect(try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: .seconds(30), limit: 10).isEmpty)

            let delivered = try await store.recordWebhookAttempt(id: claimed[0].id, outcome: .delivered(statusCode: 204))
            #expect(delivered.status == .delivered && delivered.lastStatusCode == 204 && delivered.nextAttemptAt == nil)
            #expect(delivered.deliveredAt != nil)
            let retry = time.now.addingTimeInterval(5)
            let later = try await store.recordWebhookAttempt(
                id: claimed[1].id, outcome: .failed(statusCode: 503, error: "HTTP 503", retryAt: retry))
            #expect(later.status == .pending && later.lastError == "HTTP 503" && later.nextAttemptAt == retry)
            let gaveUp = try await store.recordWebhookAttempt(
                id: rest[0].id, outcome: .failed(statusCode: nil, error: "connection refused", retryAt: nil))
            #expect(gaveUp.status == .failed && gaveUp.lastStatusCode == nil && gaveUp.nextAttemptAt == nil)
            // A finished delivery stays as it is.
            let again = try await store.recordWebhookAttempt(id: claimed[0].id, outcome: .failed(statusCode: 500, error: "x", retryAt: retry))
            #expect(again == delivered)

            time.advance(by: 6)
            let due = try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: .seconds(30), limit: 10)
            #expect(due.map(\.id) == [claimed[1].id])
            #expect(due.first?.attempts == 2)
            await #expect(throws: StateStoreError.self) {
                try await store.recordWebhookAttempt(id: 999, outcome: .delivered(statusCode: 200))
            }
        }
    }

    @Test("a cancelling run whose worker died ends cancelled and is delivered; pruning a run removes its deliveries", arguments: StoreKind.allCases)
    func recoveredEndAndPrune(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment()
            let webhook = try await store.registerWebhook(url: "http://127.0.0.1:9/hook")
            let run = try await store.makeRun(deployment)
            _ = try await store.claim("w", lease: .seconds(5))
            try await store.changeRunStatus(id: run.id, to: .cancelling)
            time.advance(by: 10)
            #expect(try await store.requeue(run.id)?.status == .cancelled)
            #expect(try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 10) == 1)
            #expect(try await store.webhookDeliveries(runID: run.id).map(\.runStatus) == [.cancelled])

            time.advance(by: 100)
            #expect(try await store.pruneRuns(endedBefore: time.now) == 1)
            #expect(try await store.webhookDeliveries(runID: run.id).isEmpty)
            #expect(try await store.claimWebhookDeliveries(webhookID: webhook.id, leaseDuration: .seconds(30), limit: 10).isEmpty)
            await #expect(throws: StateStoreError.self) {
                try await store.enqueueWebhookDeliveries(webhookID: 42, limit: 10)
            }
        }
    }
}
