import FlowModel
import Foundation
import PostgresStateStore
@testable import StateStore
import Synchronization
import Testing

/// What only the PostgreSQL store has: several processes (here, several
/// store instances with pools of their own) on one database, its schema
/// versions, and the database's clock. Runs when `FLOWRUNNER_TEST_POSTGRES_URL` is set.
@Suite("PostgreSQL store", .enabled(if: PostgresTestServer.isConfigured))
struct PostgresStoreTests {
    /// Opens `count` stores on `database`, as `count` runner machines would, runs `body`, and closes them.
    func withStores<T>(
        _ count: Int, on database: PostgresTestDatabase, clock: StoreClock? = nil, _ body: ([PostgresStateStore]) async throws -> T
    ) async throws -> T {
        var stores: [PostgresStateStore] = []
        do {
            for _ in 0..<count { stores.append(try await PostgresStateStore.open(url: database.url, clock: clock, maximumConnections: 4)) }
            let result = try await body(stores)
            for store in stores { await store.close() }
            return result
        } catch {
            for store in stores { await store.close() }
            throw error
        }
    }

    @Test("claims from several stores at once never hand a run to two owners nor run two runs of one deployment")
    func concurrentClaimsAcrossStores() async throws {
        try await PostgresTestDatabase.with { database in
            try await withStores(4, on: database) { stores in
                var deployments: [DeploymentRecord] = []
                for index in 0..<10 { deployments.append(try await stores[0].makeDeployment("d\(index)")) }
                var expected: [RecordID] = []
                for round in 0..<8 {
                    for deployment in deployments { expected.append(try await stores[round % 4].makeRun(deployment).id) }
                }
                /// Deployments with a run claimed and not yet ended, and what went wrong.
                struct Ledger { var busy: Set<RecordID> = []; var claims: [RecordID: Int] = [:]; var overlaps: [RecordID] = [] }
                let ledger = Locked(Ledger())
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, store) in stores.enumerated() {
                        for worker in 0..<3 {
                            group.addTask {
                                var idle = 0
                                while idle < 20 {
                                    guard let run = try await store.claimNextRun(
                                        owner: LeaseOwner(role: "w\(worker)", processID: Int32(index + 1), host: "machine-\(index)"),
                                        leaseDuration: .seconds(60), runID: nil) else {
                                        idle += 1
                                        try await Task.sleep(for: .milliseconds(5))
                                        continue
                                    }
                                    idle = 0
                                    ledger.withLock { ledger in
                                        ledger.claims[run.id, default: 0] += 1
                                        if !ledger.busy.insert(run.deploymentID).inserted { ledger.overlaps.append(run.id) }
                                    }
                                    try await Task.sleep(for: .milliseconds(2)) // the run "works"
                                    // Released before the end is written: the ledger never says free while the store says running.
                                    ledger.withLock { _ = $0.busy.remove(run.deploymentID) }
                                    try await store.changeRunStatus(id: run.id, to: .succeeded, errorJSON: nil, notBefore: nil)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let result = ledger.withLock { $0 }
                #expect(result.overlaps.isEmpty, "runs claimed while another run of their deployment was running")
                #expect(result.claims.filter { $0.value != 1 }.isEmpty, "runs claimed more than once")
                #expect(Set(result.claims.keys) == Set(expected), "every run claimed")
                #expect(try await stores[1].runs(matching: RunFilter(status: .succeeded, limit: 1000)).count == expected.count)
            }
        }
    }

    @Test("a claim never starts a second run of a deployment, even when older runs are retried meanwhile")
    func claimsRaceRetries() async throws {
        try await PostgresTestDatabase.with { database in
            try await withStores(3, on: database) { stores in
                // Per deployment: failed runs (older) and queued runs (newer). While workers claim the
                // queued ones, the failed ones are retried: each retry puts an older run back in the
                // queue, which a claim that looked before it must not start beside a newer one.
                var failed: [RecordID] = []
                var total = 0
                for index in 0..<4 {
                    let deployment = try await stores[0].makeDeployment("shop\(index)")
                    for _ in 0..<12 {
                        let run = try await stores[0].makeRun(deployment)
                        _ = try #require(try await stores[0].claimNextRun(owner: .test("setup"), leaseDuration: .seconds(60), runID: run.id))
                        try await stores[0].changeRunStatus(id: run.id, to: .failed, errorJSON: #"{"message":"x"}"#)
                        failed.append(run.id)
                    }
                    for _ in 0..<12 { _ = try await stores[0].makeRun(deployment) }
                    total += 24
                }
                let retried = failed.shuffled()
                /// Deployments with a run claimed and not ended yet, and the claims made while another was.
                struct Ledger { var busy: Set<RecordID> = []; var overlaps: [RecordID] = []; var claims = 0 }
                let ledger = Locked(Ledger())
                let retriesDone = Locked(false)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for id in retried {
                            try await stores[0].retryRun(id: id, replayJSON: nil, driverVersionID: nil, notBefore: nil, abandonedOwner: nil)
                        }
                        retriesDone.withLock { $0 = true }
                    }
                    for index in 0..<3 {
                        for worker in 0..<2 {
                            group.addTask {
                                var idle = 0
                                while idle < 30 || !retriesDone.withLock({ $0 }) {
                                    guard let run = try await stores[index].claimNextRun(
                                        owner: LeaseOwner(role: "w\(worker)", processID: Int32(index + 1), host: "m\(index)"),
                                        leaseDuration: .seconds(60), runID: nil) else {
                                        idle += 1
                                        try await Task.sleep(for: .milliseconds(2))
                                        continue
                                    }
                                    idle = 0
                                    ledger.withLock { ledger in
                                        ledger.claims += 1
                                        if !ledger.busy.insert(run.deploymentID).inserted { ledger.overlaps.append(run.id) }
                                    }
                                    try await Task.sleep(for: .milliseconds(1))
                                    ledger.withLock { _ = $0.busy.remove(run.deploymentID) }
                                    try await stores[index].changeRunStatus(id: run.id, to: .succeeded, errorJSON: nil, notBefore: nil)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let result = ledger.withLock { $0 }
                #expect(result.overlaps.isEmpty, "runs started beside another run of their deployment: \(result.overlaps)")
                #expect(result.claims == total)
                #expect(try await stores[0].runs(matching: RunFilter(status: .succeeded, limit: 1000)).count == total)
            }
        }
    }

    @Test("run ends committed in any order by several stores are each delivered once to a webhook")
    func outboxUnderConcurrency() async throws {
        try await PostgresTestDatabase.with { database in
            try await withStores(3, on: database) { stores in
                let deployment = try await stores[0].makeDeployment("hooked")
                let webhook = try await stores[0].registerWebhook(url: "http://127.0.0.1:9/hook")
                var made: [RecordID] = []
                for _ in 0..<60 { made.append(try await stores[0].makeRun(deployment).id) }
                let runs = made
                let enqueued = Locked(0)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, store) in stores.enumerated() {
                        group.addTask {
                            for id in runs where Int(id) % 3 == index {
                                try await store.changeRunStatus(id: id, to: .cancelled, errorJSON: nil, notBefore: nil)
                            }
                        }
                        group.addTask {
                            for _ in 0..<30 {
                                let count = try await store.enqueueWebhookDeliveries(webhookID: webhook.id, limit: 7)
                                enqueued.withLock { $0 += count }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                while try await stores[1].enqueueWebhookDeliveries(webhookID: webhook.id, limit: 100) > 0 {}
                for id in runs {
                    #expect(try await stores[2].webhookDeliveries(runID: id).count == 1, "run \(id)")
                }
            }
        }
    }

    @Test("several stores opening a new database at once migrate it once")
    func concurrentMigration() async throws {
        try await PostgresTestDatabase.with { database in
            let stores = try await withThrowingTaskGroup(of: PostgresStateStore.self) { group in
                for _ in 0..<4 { group.addTask { try await PostgresStateStore.open(url: database.url, maximumConnections: 2) } }
                return try await group.reduce(into: [PostgresStateStore]()) { $0.append($1) }
            }
            for store in stores {
                #expect(try await store.appliedMigrations() == PostgresStateStore.knownMigrations)
                await store.close()
            }
        }
    }

    @Test("a database with a schema version this FlowRunner does not know is refused and left as it is")
    func newerSchemaRefused() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url)
            _ = try await store.makeDeployment("kept")
            await store.close()
            try await database.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
            for migrate in [true, false] {
                let error = await #expect(throws: StateStoreError.self) { try await PostgresStateStore.open(url: database.url, migrate: migrate) }
                #expect(error?.code == .newerSchema)
                #expect(error?.description.contains("999") == true)
                #expect(error?.location.hasPrefix("postgres://") == true)
            }
            try await database.execute("DELETE FROM schema_migrations WHERE version = 999")
            let reopened = try await PostgresStateStore.open(url: database.url, migrate: false)
            #expect(try await reopened.deployment(named: "kept") != nil)
            await reopened.close()
        }
    }

    @Test("without migrating, an empty database is refused as holding no FlowRunner schema")
    func readOnlyOpenOfEmptyDatabase() async throws {
        try await PostgresTestDatabase.with { database in
            let error = await #expect(throws: StateStoreError.self) { try await PostgresStateStore.open(url: database.url, migrate: false) }
            #expect(error?.code == .notFound)
            let store = try await PostgresStateStore.open(url: database.url)
            #expect(try await store.appliedMigrations() == PostgresStateStore.knownMigrations)
            await store.close()
        }
    }

    @Test("a missing database and an unreachable server are cannotOpen errors naming the URL without its password")
    func openFailures() async throws {
        let missing = try PostgresTestServer.url(database: "flowrunner_no_such_database")
        let error = await #expect(throws: StateStoreError.self) { try await PostgresStateStore.open(url: missing) }
        #expect(error?.code == .cannotOpen)
        #expect(error?.description.contains("flowrunner_no_such_database") == true)
        let unreachable = await #expect(throws: StateStoreError.self) {
            try await PostgresStateStore.open(url: "postgres://someone:secret@127.0.0.1:1/db?connect_timeout=2", environment: [:])
        }
        #expect(unreachable?.code == .cannotOpen)
        #expect(unreachable?.location == "postgres://someone@127.0.0.1:1/db")
        #expect(unreachable?.description.contains("secret") == false)
    }

    @Test("without a test clock, times and leases follow the database server's clock")
    func serverClock() async throws {
        try await PostgresTestDatabase.with { database in
            try await withStores(1, on: database) { stores in
                let store = stores[0]
                let before = Date()
                let now = try await store.currentTime()
                #expect(abs(now.timeIntervalSince(before)) < 5, "the test server runs on this machine")
                let run = try await store.makeRun(try await store.makeDeployment())
                #expect(abs(run.createdAt.timeIntervalSince(now)) < 5)
                let claimed = try #require(try await store.claimNextRun(owner: .test("w"), leaseDuration: .milliseconds(300), runID: nil))
                let expires = try #require(claimed.leaseExpiresAt)
                #expect(abs(expires.timeIntervalSince(try #require(claimed.startedAt)) - 0.3) < 0.01)
                #expect(try await store.runsWithExpiredLease().isEmpty)
                try await Task.sleep(for: .milliseconds(400))
                #expect(try await store.runsWithExpiredLease().map(\.id) == [run.id])
                #expect(try await store.requeueExpiredRun(id: run.id, abandonedOwner: nil)?.attempt == 2)
            }
        }
    }

    @Test("ids come from sequences: pruning the newest rows does not hand their ids out again")
    func idsAfterPrune() async throws {
        try await withFreshStore(.postgres) { store, time in
            let deployment = try await store.makeDeployment()
            _ = try await store.makeRun(deployment)
            let pruned = try await store.makeRun(deployment)
            try await store.appendLogs([NewLogLine(runID: pruned.id, action: nil, attempt: 1, level: .info, logger: "x", message: "m")])
            try await store.changeRunStatus(id: pruned.id, to: .cancelled)
            time.advance(by: 1)
            #expect(try await store.pruneRuns(endedBefore: time.now) == 1)
            let next = try await store.makeRun(deployment)
            #expect(next.id == 3)
            try await store.appendLogs([NewLogLine(runID: next.id, action: nil, attempt: 1, level: .info, logger: "x", message: "m")])
            #expect(try await store.logs(runID: next.id).map(\.id) == [2])
        }
    }

    @Test("log lines keep their text; a NUL, which PostgreSQL text cannot hold, becomes U+FFFD")
    func logText() async throws {
        try await withFreshStore(.postgres) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let messages = ["plain", "tab\tand ünïcødé 🚀", "nul \0 inside", "", String(repeating: "x", count: 100_000)]
            try await store.appendLogs(messages.map { NewLogLine(runID: run.id, action: "a\0b", attempt: 1, level: .warning, logger: "stdout", message: $0) })
            let stored = try await store.logs(runID: run.id)
            #expect(stored.map(\.message) == messages.map { $0.replacingOccurrences(of: "\0", with: "\u{FFFD}") })
            #expect(stored.allSatisfy { $0.action == "a\u{FFFD}b" && $0.level == .warning })
        }
    }
}

/// A value behind a lock, shared by a test's tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { body(&$0) }
    }
}
