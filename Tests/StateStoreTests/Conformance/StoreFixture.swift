import FlowModel
import Foundation
import PostgresStateStore
@testable import StateStore
import Testing

/// The ``StateStore`` implementations the conformance suite holds to one
/// behaviour: every conformance test runs once against each.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, memory, postgres

    /// The kinds this run tests: PostgreSQL too when `FLOWRUNNER_TEST_POSTGRES_URL`
    /// names a server (see ``PostgresTestServer``).
    static var allCases: [StoreKind] {
        PostgresTestServer.isConfigured ? [.sqlite, .memory, .postgres] : [.sqlite, .memory]
    }

    var testDescription: String { rawValue }
}

/// Where a conformance test's clock starts: a fixed time, so that times
/// compare exactly and nothing depends on when the test runs.
let conformanceEpoch = Date(timeIntervalSince1970: 1_750_000_000)

/// Runs `body` against a fresh, empty store of `kind` whose clock stands at
/// `start` until the test moves it: a SQLite file in a scratch directory
/// (removed afterwards), an ``InMemoryStateStore``, or a database of its own
/// on the test PostgreSQL server (dropped afterwards).
func withFreshStore(
    _ kind: StoreKind, start: Date = conformanceEpoch, _ body: (any StateStore, ManualTime) async throws -> Void
) async throws {
    let time = ManualTime(start)
    switch kind {
    case .sqlite:
        let scratch = ScratchDatabase()
        let store = try scratch.open(clock: .manual(time))
        try await body(store, time)
        // The scratch directory must outlive every use of the store.
        withExtendedLifetime(scratch) {}
    case .memory:
        try await body(InMemoryStateStore(clock: .manual(time)), time)
    case .postgres:
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresStateStore.open(url: database.url, clock: .manual(time))
            do {
                try await body(store, time)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }
}

extension StateStore {
    /// Claims the next runnable run (any run) for the test owner `owner`.
    func claim(_ owner: String, lease: Duration = .seconds(30)) async throws -> RunRecord? {
        try await claimNextRun(owner: .test(owner), leaseDuration: lease, runID: nil)
    }

    /// Requeues `id` if its lease expired (no owner known to be gone).
    func requeue(_ id: RecordID) async throws -> RunRecord? {
        try await requeueExpiredRun(id: id, abandonedOwner: nil)
    }

    /// A step of `actionRunID` with made-up arguments.
    func begin(_ actionRunID: RecordID, attempt: Int = 1, seq: Int, name: String = "t") async throws -> RecordID {
        try await beginStep(NewStep(actionRunID: actionRunID, attempt: attempt, seq: seq, kind: .task, name: name,
                                    argsJSON: "{}", argsDigest: "d\(seq)"), divergenceJSON: nil)
    }
}
