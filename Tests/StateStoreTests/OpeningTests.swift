import Foundation
import GRDB
@testable import StateStore
import Testing

@Suite("Opening, migrating and refusing databases")
struct OpeningTests {
    @Test("a new database is created with its directory and fully migrated, in WAL mode")
    func create() async throws {
        let scratch = ScratchDatabase()
        let path = scratch.directory + "/nested/dir/state.sqlite"
        let store = try SQLiteStateStore(path: path)
        #expect(try store.appliedMigrations() == Migrations.identifiers)
        let mode = try await store.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let synchronous = try await store.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 1) // NORMAL
        #expect(try await store.read { db in try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") } == true)
    }

    @Test("a database from an older version opens and migrates, keeping its data")
    func migrateOlder() async throws {
        let scratch = ScratchDatabase()
        do {
            let queue = try DatabaseQueue(path: scratch.path)
            try Migrations.migrator.migrate(queue, upTo: "v1-core")
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO driver_versions (driver, number, spec_version, digest, loaded_at) VALUES ('old', 1, '1', 'abc', 0)")
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Migrations.identifiers)
        #expect(try await store.driverVersions().map(\.driver) == ["old"])
        try await store.saveSimulatedClusterState(deployment: "x", stateJSON: "{}") // table from v2
        #expect(try await store.simulatedClusterState(deployment: "x") == "{}")
    }

    @Test("v13 rebuilds the deployments table: every deployment, column and run reference is kept")
    func migrateDeploymentsTable() async throws {
        let scratch = ScratchDatabase()
        do {
            let queue = try DatabaseQueue(path: scratch.path)
            try Migrations.migrator.migrate(queue, upTo: "v12-clusters")
            try await queue.write { db in
                try db.execute(sql: """
                    INSERT INTO driver_versions (driver, number, spec_version, digest, loaded_at) VALUES ('drv', 1, '1', 'abc', 0);
                    INSERT INTO deployments (name, driver, driver_version_id, app_version, parameters, config, created_at, updated_at,
                                             cluster, secret_config_keys, components)
                        VALUES ('shop', 'drv', 1, '0.3.0', '{"size":3}', '{"k":"v"}', 10, 20, 'prod', '["k"]', '{"web":{"env":{"A":"1"}}}');
                    INSERT INTO runs (deployment_id, hook, status, inputs, context, driver_version_id, created_at)
                        VALUES (1, 'setup', 'succeeded', '{}', '{}', 1, 10);
                    """)
            }
        }
        let store = try scratch.open()
        #expect(try store.appliedMigrations() == Migrations.identifiers)
        let shop = try #require(try await store.deployment(named: "shop"))
        #expect(shop.appVersion == "0.3.0" && shop.parametersJSON == #"{"size":3}"# && shop.configJSON == #"{"k":"v"}"#)
        #expect(shop.cluster == "prod" && shop.secretConfigKeys == ["k"] && shop.componentsJSON == #"{"web":{"env":{"A":"1"}}}"#)
        #expect(shop.deletedAt == nil && shop.createdAt.timeIntervalSince1970 == 10)
        #expect(try await store.run(id: 1)?.deployment == "shop")
        try await store.markDeploymentDeleted(id: shop.id)
        let again = try await store.createDeployment(NewDeployment(name: "shop", driver: "drv", driverVersionID: 1, appVersion: "", cluster: "simulated"))
        #expect(again.id == 2, "the deleted deployment's name is free again")
        let violations = try await store.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count }
        #expect(violations == 0)
    }

    @Test("a database from a newer version is refused with a clear message, untouched")
    func refuseNewer() async throws {
        let scratch = ScratchDatabase()
        do {
            let store = try scratch.open()
            _ = try await store.makeDeployment()
            try await store.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')") }
            try store.checkpoint()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: scratch.path))
        let error = #expect(throws: StateStoreError.self) { try scratch.open() }
        #expect(error?.code == .newerSchema)
        #expect(error?.description.contains(scratch.path) == true)
        #expect(error?.description.contains("v99-future") == true)
        let after = try Data(contentsOf: URL(fileURLWithPath: scratch.path))
        let changed = zip(before, after).enumerated().filter { $1.0 != $1.1 }.map(\.offset)
        #expect(after == before, "changed bytes at \(changed.prefix(20)), sizes \(before.count) \(after.count)")
    }

    @Test("a file that is not a database is refused and left as it was")
    func notADatabase() async throws {
        let scratch = ScratchDatabase()
        let garbage = Data("this is a text file, not a database\n".utf8)
        try garbage.write(to: URL(fileURLWithPath: scratch.path))
        let error = #expect(throws: StateStoreError.self) { try scratch.open() }
        #expect(error?.code == .notADatabase)
        #expect(error?.description.contains(scratch.path) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path)) == garbage)
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "-wal"))
    }

    @Test("a corrupt database is refused with an error naming the path, bytes unchanged")
    func corrupt() async throws {
        let scratch = ScratchDatabase()
        do {
            let store = try scratch.open()
            let deployment = try await store.makeDeployment()
            for _ in 0..<50 { _ = try await store.makeRun(deployment) }
            try store.checkpoint()
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.path)))
        // Keep the 100-byte header, wreck the rest of page 1 (the schema) and page 2.
        for index in 100..<min(bytes.count, 8192) { bytes[index] = UInt8(truncatingIfNeeded: index &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: scratch.path))
        await #expect {
            let store = try scratch.open()
            _ = try await store.runs()
        } throws: { error in
            guard let error = error as? StateStoreError else { return false }
            return error.code == .notADatabase && error.description.contains(scratch.path)
        }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch.path))) == bytes)
    }

    @Test("a directory given as the database is refused")
    func directory() async throws {
        let scratch = ScratchDatabase()
        let error = #expect(throws: StateStoreError.self) { try SQLiteStateStore(path: scratch.directory) }
        #expect(error?.code == .cannotOpen)
        #expect(error?.reason.contains("is a directory") == true)
    }

    @Test("an unwritable location is refused with the path named")
    func unwritableLocation() async throws {
        // /proc refuses new directories even to root.
        let error = #expect(throws: StateStoreError.self) { try SQLiteStateStore(path: "/proc/flowrunner-test/state.sqlite") }
        #expect(error?.code == .cannotOpen)
        #expect(error?.description.contains("/proc/flowrunner-test/state.sqlite") == true)
    }

    @Test("a read-only directory is refused with the path named", .enabled(if: getuid() != 0, "root ignores directory permissions"))
    func readOnlyDirectory() async throws {
        let scratch = ScratchDatabase()
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: scratch.directory)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.directory) }
        let error = #expect(throws: StateStoreError.self) { try scratch.open() }
        #expect(error?.code == .cannotOpen)
        #expect(error?.description.contains(scratch.path) == true)
    }

    @Test("the state path: --state, else $FLOWRUNNER_STATE, else ~/.flowrunner/state.sqlite")
    func resolvePath() {
        #expect(SQLiteStateStore.resolvePath(explicit: "/a.sqlite", environment: ["FLOWRUNNER_STATE": "/b.sqlite"]) == "/a.sqlite")
        #expect(SQLiteStateStore.resolvePath(explicit: nil, environment: ["FLOWRUNNER_STATE": "/b.sqlite", "HOME": "/h"]) == "/b.sqlite")
        #expect(SQLiteStateStore.resolvePath(explicit: nil, environment: ["HOME": "/h"]) == "/h/.flowrunner/state.sqlite")
    }
}
