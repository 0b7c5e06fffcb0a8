import Foundation
@testable import PostgresStateStore
import StateStore
import Testing

/// Databases left by an older FlowRunner, migrated when opened. Runs when
/// `FLOWRUNNER_TEST_POSTGRES_URL` is set.
@Suite("PostgreSQL migrations", .enabled(if: PostgresTestServer.isConfigured))
struct PostgresMigrationTests {
    @Test("version 3 carries every run end of a version 2 database over to attempt_ends, losing nothing")
    func attemptEndsFromVersion2() async throws {
        try await PostgresTestDatabase.with { database in
            let settings = try PostgresSettings(url: database.url, environment: ProcessInfo.processInfo.environment)
            let old = try PostgresStateStore(settings: settings, maximumConnections: 1)
            do {
                try await old.migrate(upTo: 2)
                #expect(try await old.appliedMigrations() == [1, 2])
                await old.close()
            } catch {
                await old.close()
                throw error
            }
            try await PostgresTestServer.execute(RunsBeforeAttemptEnds.statements, database: database.name)

            let store = try await PostgresStateStore.open(url: database.url, maximumConnections: 2)
            do {
                #expect(try await store.appliedMigrations() == PostgresStateStore.knownMigrations)
                try await RunsBeforeAttemptEnds.check(store)
                await store.close()
            } catch {
                await store.close()
                throw error
            }
        }
    }
}
