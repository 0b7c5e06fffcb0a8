import FlowModel
import Foundation
import GRDB
@testable import StateStore
import Testing

/// Runs written before `attempt_ends` existed (SQLite v14, PostgreSQL schema
/// version 2), as the migrations find them: their ends are only in the
/// `run_ends` outbox, written by its trigger.
enum RunsBeforeAttemptEnds {
    /// The run's error when its first attempt failed.
    static let firstError = #"{"type":"ActionFailed","action":"migrate","message":"boom"}"#
    /// The run's error when its second (last) attempt failed.
    static let secondError = #"{"type":"ActionFailed","action":"migrate","message":"boom again"}"#
    /// The failing action's error, with its traceback.
    static let actionError = #"{"type":"ValueError","message":"boom again","traceback":"Traceback (most recent call last): ..."}"#

    /// Statements valid on both schemas: a driver version and deployment
    /// (id 1); run 1 failed, queued again and failed again (two ends); run 2
    /// succeeded; run 3 still queued. Ids come from the tables' own counters.
    static let statements: [String] = [
        "INSERT INTO driver_versions (driver, number, spec_version, digest, loaded_at) VALUES ('drv', 1, '1', 'abc', 0)",
        """
        INSERT INTO deployments (name, driver, driver_version_id, app_version, created_at, updated_at)
            VALUES ('shop', 'drv', 1, '0.1.0', 1, 1)
        """,
        """
        INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, created_at, started_at)
            VALUES (1, 'upgrade', 'running', 1, '{}', '{}', 1, 10, 11)
        """,
        """
        INSERT INTO action_runs (run_id, name, mode, position, status, attempts, error, started_at, ended_at)
            VALUES (1, 'migrate', 'core', 0, 'failed', 1, '{"type":"ValueError","message":"boom"}', 11, 12)
        """,
        "UPDATE runs SET status = 'failed', error = '\(firstError)', ended_at = 12 WHERE id = 1",
        "UPDATE runs SET status = 'queued', attempt = 2, error = NULL, started_at = NULL, ended_at = NULL WHERE id = 1",
        "UPDATE runs SET status = 'running', started_at = 30 WHERE id = 1",
        "UPDATE action_runs SET attempts = 2, error = '\(actionError)', ended_at = 31 WHERE run_id = 1",
        "UPDATE runs SET status = 'failed', error = '\(secondError)', ended_at = 32 WHERE id = 1",
        """
        INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, created_at, started_at)
            VALUES (1, 'upgrade', 'running', 1, '{}', '{}', 1, 20, 21)
        """,
        "UPDATE runs SET status = 'succeeded', ended_at = 22 WHERE id = 2",
        """
        INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, created_at)
            VALUES (1, 'upgrade', 'queued', 1, '{}', '{}', 1, 40)
        """,
    ]

    /// Checks `store`, opened (and migrated) on those runs: the old ends are
    /// attempt ends, nothing else changed, and a run ending now records one end.
    static func check(_ store: any StateStore) async throws {
        let runs = try await store.runs().sorted { $0.id < $1.id }
        #expect(runs.map(\.id) == [1, 2, 3])
        #expect(runs.map(\.status) == [.failed, .succeeded, .queued])
        #expect(runs.map(\.attempt) == [2, 1, 1])
        #expect(runs.map(\.errorJSON) == [secondError, nil, nil])
        #expect(runs.map { $0.endedAt?.timeIntervalSince1970 } == [32, 22, nil])
        #expect(runs.allSatisfy { $0.deployment == "shop" })
        let actions = try await store.actionRuns(runID: 1)
        #expect(actions.map(\.name) == ["migrate"] && actions.first?.errorJSON == actionError)

        #expect(try await store.attemptEnds(ofRun: 1) == [
            AttemptEnd(attempt: 1, endedBy: .end, status: .failed, errorJSON: firstError, endedAt: Date(timeIntervalSince1970: 12)),
            AttemptEnd(attempt: 2, endedBy: .end, status: .failed, errorJSON: secondError, endedAt: Date(timeIntervalSince1970: 32)),
        ], "carried over from run_ends, without the action's error (it was not kept)")
        #expect(try await store.attemptEnds(ofRun: 2) == [
            AttemptEnd(attempt: 1, endedBy: .end, status: .succeeded, errorJSON: nil, endedAt: Date(timeIntervalSince1970: 22)),
        ])
        #expect(try await store.attemptEnds(ofRun: 3) == [])

        let thirdError = #"{"type":"Cancelled","message":"no longer wanted"}"#
        _ = try await store.changeRunStatus(id: 3, to: .failed, errorJSON: thirdError)
        let ends = try await store.attemptEnds(ofRun: 3)
        #expect(ends.map(\.endedBy) == [.end] && ends.map(\.status) == [.failed] && ends.map(\.errorJSON) == [thirdError])
        #expect(try await store.attemptEnds(ofRun: 1).count == 2, "an end recorded after the migration adds none to other runs")
    }
}

@Suite("Migrating runs to attempt_ends")
struct AttemptEndsMigrationTests {
    @Test("v15 carries every run end of a v14 database over to attempt_ends, losing nothing")
    func sqliteFromV14() async throws {
        let scratch = ScratchDatabase()
        do {
            let queue = try DatabaseQueue(path: scratch.path)
            try Migrations.migrator.migrate(queue, upTo: "v14-run-ends-by-run")
            try await queue.write { db in
                for statement in RunsBeforeAttemptEnds.statements { try db.execute(sql: statement) }
            }
            let outbox = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM run_ends") }
            #expect(outbox == 3)
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Migrations.identifiers)
        try await RunsBeforeAttemptEnds.check(store)
        let outbox = try await store.read { db in try String.fetchAll(db, sql: "SELECT status FROM run_ends ORDER BY id") }
        #expect(outbox == ["failed", "failed", "succeeded", "failed"], "the webhooks' outbox is unchanged, the new end added")
        let violations = try await store.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count }
        #expect(violations == 0)
    }
}
