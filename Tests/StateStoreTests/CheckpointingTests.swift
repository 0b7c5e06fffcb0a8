import Foundation
@testable import StateStore
import Testing

/// In WAL mode only a checkpoint writes the database file itself, so its
/// size tells whether one has run.
@Suite("Who checkpoints the write-ahead log")
struct CheckpointingTests {
    /// About 6 MiB of writes: well past SQLite's automatic checkpoint at 1,000 pages (4 MiB).
    static func writeMuch(_ store: SQLiteStateStore) async throws {
        let state = "{\"blob\":\"" + String(repeating: "x", count: 300_000) + "\"}"
        for index in 0..<20 {
            try await store.saveSimulatedClusterState(deployment: "d\(index)", stateJSON: state)
        }
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test("automatic: the write that grows the log past 1,000 pages checkpoints it")
    func automatic() async throws {
        let scratch = ScratchDatabase()
        let store = try SQLiteStateStore(path: scratch.path, checkpointing: .automatic)
        let before = Self.size(scratch.path)
        try await Self.writeMuch(store)
        #expect(Self.size(scratch.path) > before + 1_000_000)
    }

    @Test("background: writes never checkpoint themselves")
    func writesDoNotCheckpoint() async throws {
        let scratch = ScratchDatabase()
        let store = try SQLiteStateStore(path: scratch.path, checkpointing: .background(interval: .seconds(3600)))
        let before = Self.size(scratch.path)
        try await Self.writeMuch(store)
        #expect(Self.size(scratch.path) == before)
        #expect(Self.size(scratch.path + "-wal") > 5_000_000)
    }

    @Test("background: the store's own checkpoints copy the log into the file while it stays open")
    func backgroundCheckpoints() async throws {
        let scratch = ScratchDatabase()
        let store = try SQLiteStateStore(path: scratch.path, checkpointing: .background(interval: .milliseconds(20)))
        let before = Self.size(scratch.path)
        try await Self.writeMuch(store)
        let deadline = ContinuousClock.now + .seconds(60)
        while Self.size(scratch.path) <= before + 1_000_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(Self.size(scratch.path) > before + 1_000_000)
        #expect(try await store.simulatedClusterState(deployment: "d19")?.count == 300_011)
    }
}
