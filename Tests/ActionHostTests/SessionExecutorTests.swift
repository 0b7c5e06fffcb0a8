@testable import ActionHost
import FlowModel
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("A host session's own thread", .timeLimit(.minutes(1)))
struct SessionExecutorTests {
    /// What the executor's input reported.
    final class Seen: Sendable {
        let lines = Mutex<[String]>([])
        let closed = Mutex(0)
        let done = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let isClosed = Mutex(false)

        func input(_ fd: Int32, maximum: Int = 1 << 20, stopAt stop: String? = nil) -> SessionExecutor.Input {
            SessionExecutor.Input(fd: fd, maximumLineLength: maximum, handle: { [self] event in
                switch event {
                case .line(let bytes):
                    let text = String(decoding: bytes, as: UTF8.self)
                    lines.withLock { $0.append(text) }
                    return text != stop
                case .oversized(let prefix):
                    lines.withLock { $0.append("oversized:" + String(decoding: prefix.prefix(4), as: UTF8.self)) }
                    return false
                }
            }, closed: { [self] in
                closed.withLock { $0 += 1 }
                let waiter = isClosed.withLock { closed -> CheckedContinuation<Void, Never>? in
                    closed = true
                    return done.withLock { $0.take() }
                }
                waiter?.resume()
            })
        }

        func waitClosed() async {
            await withCheckedContinuation { continuation in
                let already = isClosed.withLock { closed -> Bool in
                    if !closed { done.withLock { $0 = continuation } }
                    return closed
                }
                if already { continuation.resume() }
            }
        }
    }

    static func pipeEnds() throws -> (Int32, Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        return (ends[0], ends[1])
    }

    static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    @Test("lines are read in order on the session's thread, the last one without a newline too; the end is said once")
    func readsLines() async throws {
        let (readEnd, writeEnd) = try Self.pipeEnds()
        let seen = Seen()
        let executor = SessionExecutor()
        executor.start(reading: seen.input(readEnd))
        Self.write(writeEnd, "one\ntwo\n")
        Self.write(writeEnd, "thr")
        Self.write(writeEnd, "ee\nlast")
        close(writeEnd)
        await seen.waitClosed()
        #expect(seen.lines.withLock { $0 } == ["one", "two", "three", "last"])
        executor.finish()
        try await Task.sleep(for: .milliseconds(50))
        #expect(seen.closed.withLock { $0 } == 1)
    }

    @Test("a line that grows past the limit stops reading, reported by its start")
    func oversizedLine() async throws {
        let (readEnd, writeEnd) = try Self.pipeEnds()
        defer { close(writeEnd) }
        let seen = Seen()
        let executor = SessionExecutor()
        executor.start(reading: seen.input(readEnd, maximum: 100))
        // One write (atomic on a pipe): the unfinished line is past the limit when it is read.
        Self.write(writeEnd, "ok\n" + String(repeating: "x", count: 300))
        await seen.waitClosed()
        #expect(seen.lines.withLock { $0 } == ["ok", "oversized:xxxx"])
        executor.finish()
    }

    @Test("tasks that prefer the executor run on its dedicated thread, also when woken from other threads; after finish() they still end")
    func runsTasks() async throws {
        let (readEnd, writeEnd) = try Self.pipeEnds()
        defer { close(writeEnd) }
        let seen = Seen()
        let executor = SessionExecutor()
        executor.start(reading: seen.input(readEnd))
        let onThread = await Task(executorPreference: executor) { () async -> [Bool] in
            var results = [DedicatedThread.isCurrent]
            for _ in 0..<50 {
                // Resumed from a timer on another thread: the wake pipe brings it back here.
                try? await Task.sleep(for: .milliseconds(1))
                results.append(DedicatedThread.isCurrent)
            }
            return results
        }.value
        #expect(onThread.allSatisfy { $0 } && onThread.count == 51)
        #expect(!DedicatedThread.isCurrent)
        executor.finish()
        await seen.waitClosed()  // finishing stops reading and closes the pipe
        // Enqueued after the thread ended: runs on the global executor.
        let after = await Task(executorPreference: executor) { () async -> Bool in
            try? await Task.sleep(for: .milliseconds(1))
            return DedicatedThread.isCurrent
        }.value
        #expect(after == false)
    }
}
