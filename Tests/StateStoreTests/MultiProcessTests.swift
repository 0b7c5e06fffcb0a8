import Foundation
@testable import StateStore
import Testing

@Suite("Several processes on one database")
struct MultiProcessTests {
    @Test("two processes claiming concurrently never claim a run twice (1,000 claims)")
    func concurrentClaims() async throws {
        let scratch = ScratchDatabase()
        let path = scratch.path
        // Child processes are waited for off the cooperative threads (see offCooperativePool).
        let (seedStatus, outputs, statuses) = try await offCooperativePool { () throws -> (Int32, [String], [Int32]) in
            let seed = try Probe.start(["seed", path, "40", "1000"], stdout: Pipe())
            seed.waitUntilExit()
            let pipes = [Pipe(), Pipe()]
            let workers = try pipes.enumerated().map { index, pipe in try Probe.start(["claim", path, "worker-\(index)"], stdout: pipe) }
            let outputs = pipes.map { String(decoding: $0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
            for worker in workers { worker.waitUntilExit() }
            return (seed.terminationStatus, outputs, workers.map(\.terminationStatus))
        }
        #expect(seedStatus == 0)
        #expect(statuses == [0, 0])
        let claims = outputs.map { $0.split(separator: "\n").filter { $0.hasPrefix("claimed ") }.map { String($0.dropFirst(8)) } }
        let all = claims.flatMap { $0 }
        #expect(all.count == 1000)
        #expect(Set(all).count == 1000, "a run was claimed twice")
        #expect(claims.allSatisfy { !$0.isEmpty }, "both workers should have claimed something: \(claims.map(\.count))")
        let store = try scratch.open()
        #expect(try await store.runs(matching: RunFilter(status: .succeeded, limit: 2000)).count == 1000)
    }

    @Test("SIGKILL in the middle of writing steps leaves a sound database holding every step whose write had returned")
    func crashMidWrite() async throws {
        let scratch = ScratchDatabase()
        let path = scratch.path
        let (reported, actionID, reason) = try await offCooperativePool { () throws -> ([Int], RecordID?, Process.TerminationReason) in
            let pipe = Pipe()
            let writer = try Probe.start(["write-steps", path, "1000000"], stdout: pipe)
            var buffer = Data()
            var reported: [Int] = []
            var actionID: RecordID?
            let handle = pipe.fileHandleForReading
            func consume(_ final: Bool) {
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if line.hasPrefix("step "), let seq = Int(line.dropFirst(5)) { reported.append(seq) }
                    if line.hasPrefix("action "), let id = RecordID(line.dropFirst(7)) { actionID = id }
                }
            }
            // Let it write a good number of steps, then kill it mid-stream.
            while reported.count < 400 {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                consume(false)
            }
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            // Lines already in the pipe were also written before the kill.
            buffer.append(handle.readDataToEndOfFile())
            consume(true)
            return (reported, actionID, writer.terminationReason)
        }
        #expect(reason == .uncaughtSignal)
        let store = try scratch.open()
        #expect(try store.integrityProblems().isEmpty)
        let steps = try await store.steps(actionRunID: try #require(actionID))
        let succeeded = Set(steps.filter { $0.status == .succeeded }.map(\.seq))
        #expect(reported.count >= 400)
        for seq in reported { #expect(succeeded.contains(seq), "step \(seq) was reported written but is missing") }
        // At most the one step in flight is left running.
        #expect(steps.filter { $0.status == .running }.count <= 1)
    }
}

/// Runs blocking work (waiting for child processes) on a thread of its own,
/// so tests running beside it keep Swift's cooperative threads. Assertions
/// stay in the test: only data comes back.
func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        DispatchQueue.global().async {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
