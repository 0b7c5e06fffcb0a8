import FlowModel
import Foundation
import GRDB
@testable import StateStore
import Testing

@Suite("State files: private modes, read-only opening, damage detected")
struct ProtectionTests {
    @Test("a new state file is 0600 in a new 0700 directory")
    func modes() throws {
        let scratch = ScratchDatabase()
        let path = scratch.directory + "/private/state.sqlite"
        _ = try SQLiteStateStore(path: path)
        let manager = FileManager.default
        #expect((try manager.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600)
        #expect((try manager.attributesOfItem(atPath: scratch.directory + "/private")[.posixPermissions] as? Int) == 0o700)
    }

    @Test("read-only: a missing file is refused and not created")
    func readOnlyMissing() {
        let scratch = ScratchDatabase()
        do {
            _ = try SQLiteStateStore(path: scratch.path, readOnly: true)
            Issue.record("a missing state file was opened")
        } catch {
            #expect(error.code == .notFound)
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path))
    }

    @Test("read-only: reads work, writes are refused, an older schema is not migrated")
    func readOnly() async throws {
        let scratch = ScratchDatabase()
        do {
            let store = try scratch.open()
            _ = try await store.makeDeployment("a")
        }
        let reader = try SQLiteStateStore(path: scratch.path, readOnly: true)
        #expect(try await reader.deployments().map(\.name) == ["a"])
        await #expect(throws: StateStoreError.self) { _ = try await reader.makeDeployment("b") }

        let older = ScratchDatabase()
        do {
            let queue = try DatabaseQueue(path: older.path)
            try Migrations.migrator.migrate(queue, upTo: "v1-core")
        }
        #expect(throws: StateStoreError.self) { _ = try SQLiteStateStore(path: older.path, readOnly: true) }
        let applied = try DatabaseQueue(path: older.path).inDatabase { db in try Migrations.migrator.appliedIdentifiers(db) }
        #expect(applied == ["v1-core"], "a read-only open migrated the file")
    }

    @Test("a state file missing one of its tables is refused as damaged, naming the table")
    func missingTable() throws {
        let scratch = ScratchDatabase()
        _ = try scratch.open()
        try DatabaseQueue(path: scratch.path).write { db in try db.execute(sql: "DROP TABLE logs") }
        do {
            _ = try SQLiteStateStore(path: scratch.path)
            Issue.record("a damaged state file was opened")
        } catch {
            #expect(error.code == .notADatabase)
            #expect(error.description.contains("logs"))
        }
    }

    @Test("a damaged page in a small state file is found at open (quick_check), not read as missing rows")
    func damagedPage() async throws {
        let scratch = ScratchDatabase()
        do {
            let store = try scratch.open()
            _ = try await store.makeRun(try await store.makeDeployment())
            try store.checkpoint()
        }
        let rootPage = try DatabaseQueue(path: scratch.path).inDatabase { db in
            try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'runs'")
        }
        let page = try #require(rootPage)
        let handle = try #require(FileHandle(forUpdatingAtPath: scratch.path))
        let pageSize = 4096
        try handle.seek(toOffset: UInt64((page - 1) * pageSize + 8))
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 300))
        try handle.close()
        do {
            _ = try SQLiteStateStore(path: scratch.path, readOnly: true)
            Issue.record("a damaged state file was opened")
        } catch {
            #expect(error.code == .notADatabase)
            #expect(error.description.contains("damaged") || error.description.contains("malformed"), "\(error)")
        }
    }
}
