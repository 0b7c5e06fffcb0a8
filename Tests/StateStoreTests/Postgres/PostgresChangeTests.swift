import FlowModel
import Foundation
@testable import PostgresStateStore
@testable import StateStore
import Testing

/// Changes told across processes (LISTEN/NOTIFY): a waiter on one store is
/// woken by a write through another store on the same database (another
/// machine), long before its timeout, and listening resumes after the
/// server cuts the connection. Each wait here has an hour's timeout: a
/// notification that does not arrive fails the test by its time limit.
@Suite("PostgreSQL store: changes told across processes", .enabled(if: PostgresTestServer.isConfigured))
struct PostgresChangeTests {
    @Test("a claim, a cancel request, log lines and a queued run made through another store wake the waiters",
          .timeLimit(.minutes(2)))
    func writesWakeWaiters() async throws {
        try await PostgresTestDatabase.with { database in
            let watcher = try await PostgresStateStore.open(url: database.url)
            let writer = try await PostgresStateStore.open(url: database.url)
            let deployment = try await writer.makeDeployment()
            let run = try await writer.makeRun(deployment)
            try await startListening(watcher)

            try await woken(watcher, .status, run.id) {
                _ = try await writer.claimNextRun(owner: .test("w"), leaseDuration: .seconds(60), runID: run.id)
            }
            try await woken(watcher, .status, run.id) {
                _ = try await writer.changeRunStatus(id: run.id, to: .cancelling)
            }
            try await woken(watcher, [.logs, .status], run.id) {
                try await writer.appendLogs([NewLogLine(runID: run.id, action: "a", attempt: 1, level: .info, logger: "t", message: "hello")])
            }
            let other = try await writer.makeDeployment("other")
            try await wokenOnQueue(watcher) { _ = try await writer.makeRun(other) }
            await watcher.close()
            await writer.close()
        }
    }

    @Test("after the server cuts the listening connection, listening resumes and wakes waiters again", .timeLimit(.minutes(2)))
    func listeningResumes() async throws {
        try await PostgresTestDatabase.with { database in
            let watcher = try await PostgresStateStore.open(url: database.url)
            let writer = try await PostgresStateStore.open(url: database.url)
            let deployment = try await writer.makeDeployment()
            try await startListening(watcher)
            let before = try await listeningBackends(database.name)
            #expect(before.count == 1, "one listening connection: \(before)")
            try await PostgresTestServer.admin("SELECT pg_terminate_backend(\(before.first ?? 0))")
            // A new connection listens (the old one is gone); until then waits poll.
            while true {
                let now = try await listeningBackends(database.name)
                if now.count == 1, now != before, await watcher.listener.isListening { break }
                await watcher.waitForQueueChange(timeout: .milliseconds(100))
            }
            try await wokenOnQueue(watcher) { _ = try await writer.makeRun(deployment) }
            await watcher.close()
            await writer.close()
        }
    }

    @Test("the first wait, which opens the listening connection, returns once it listens, not after its timeout",
          .timeLimit(.minutes(1)))
    func firstWaitReturnsWhenListening() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url)
            #expect(await store.listener.isListening == false)
            // Before, a wait begun while not listening slept its whole timeout (an hour here).
            await store.waitForChange(.status, ofRun: 1, timeout: .seconds(3600))
            #expect(await store.listener.isListening)
            await store.close()
        }
    }

    @Test("waits that time out or are cancelled leave no waiter nor key behind, and a cancelled wait returns at once",
          .timeLimit(.minutes(1)))
    func waitsLeaveNothingBehind() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url)
            try await startListening(store)
            await withTaskGroup(of: Void.self) { group in
                for id in RecordID(1)...200 {
                    group.addTask { await store.waitForChange([.status, .logs], ofRun: id, timeout: .milliseconds(20)) }
                }
            }
            let cancelled = Task { await store.waitForChange(.status, ofRun: 1_000, timeout: .seconds(3600)) }
            while await store.listener.waiterCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            cancelled.cancel()
            await cancelled.value
            #expect(await store.listener.waiterCount == 0)
            #expect(await store.listener.waitedKeyCount == 0, "a key per run ever waited for would grow for the process's life")
            await store.close()
        }
    }

    @Test("a queued run wakes one of the idle workers waiting in a process, not the whole herd", .timeLimit(.minutes(1)))
    func queueWakesOne() async throws {
        try await PostgresTestDatabase.with { database in
            let watcher = try await PostgresStateStore.open(url: database.url)
            let writer = try await PostgresStateStore.open(url: database.url)
            let deployment = try await writer.makeDeployment()
            try await startListening(watcher)
            let waits = (0..<4).map { _ in Task { await watcher.waitForQueueChange(timeout: .seconds(3600)) } }
            while await watcher.listener.waiterCount < waits.count { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await writer.makeRun(deployment)
            while await watcher.listener.waiterCount == waits.count { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(await watcher.listener.waiterCount == waits.count - 1, "one worker claims; the others stay asleep")
            await watcher.close()
            for wait in waits { await wait.value }
            await writer.close()
        }
    }

    @Test("closing the store wakes the pending waits and returns", .timeLimit(.minutes(1)))
    func closeWakesWaiters() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url)
            try await startListening(store)
            let waits = (0..<5).map { id in Task { await store.waitForChange(.status, ofRun: RecordID(id), timeout: .seconds(3600)) } }
            while await store.listener.waiterCount < waits.count { try await Task.sleep(for: .milliseconds(5)) }
            await store.close()
            for wait in waits { await wait.value }
            #expect(await store.listener.waiterCount == 0)
        }
    }

    @Test("a wait with no listening connection returns after its timeout (callers poll)", .timeLimit(.minutes(1)))
    func fallsBackToPolling() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url)
            await store.listener.stop()
            await store.waitForChange([.status, .logs], ofRun: 1, timeout: .milliseconds(50))
            await store.waitForQueueChange(timeout: .milliseconds(50))
            #expect(await store.listener.isListening == false)
            await store.close()
        }
    }
}

/// Waits (polling) until `store`'s listener listens; the first wait starts it.
private func startListening(_ store: PostgresStateStore) async throws {
    while await !store.listener.isListening {
        await store.waitForQueueChange(timeout: .milliseconds(50))
    }
}

/// Starts a wait for `changes` of run `id` on `store`, makes the change with
/// `write` once the wait is registered, and returns when the wait is woken.
private func woken(_ store: PostgresStateStore, _ changes: RunChanges, _ id: RecordID,
                   by write: @escaping @Sendable () async throws -> Void) async throws {
    try await wakes(store, wait: { await store.waitForChange(changes, ofRun: id, timeout: .seconds(3600)) }, write)
}

private func wokenOnQueue(_ store: PostgresStateStore, by write: @escaping @Sendable () async throws -> Void) async throws {
    try await wakes(store, wait: { await store.waitForQueueChange(timeout: .seconds(3600)) }, write)
}

private func wakes(_ store: PostgresStateStore, wait: @escaping @Sendable () async -> Void,
                   _ write: @escaping @Sendable () async throws -> Void) async throws {
    let waiting = Task { await wait() }
    while await store.listener.waiterCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
    try await write()
    await waiting.value
}

/// The process ids of the connections listening on `database`.
private func listeningBackends(_ database: String) async throws -> [Int] {
    try await PostgresTestServer.adminInts("SELECT pid FROM pg_stat_activity WHERE datname = '\(database)' AND query ILIKE 'LISTEN%' ORDER BY pid")
}
