@testable import ActionHost
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Writing to a host's stdin")
struct HostInputTests {
    /// A pipe: (read end, write end).
    static func pipeEnds() throws -> (Int32, Int32) {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        return (ends[0], ends[1])
    }

    /// Everything readable from `fd` until its end, read on a thread of its own.
    static func readAll(_ fd: Int32) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            Thread {
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    bytes += buffer[0..<count]
                }
                close(fd)
                continuation.resume(returning: bytes)
            }.start()
        }
    }

    @Test("lines arrive whole and in order, whether the pipe takes them at once or they wait for the reader")
    func order() async throws {
        let (readEnd, writeEnd) = try Self.pipeEnds()
        let input = HostInput(fd: writeEnd)
        var expected: [UInt8] = []
        // Nobody reads yet: the first lines fill the pipe, the rest queue behind them.
        for index in 0..<300 {
            let size = index % 50 == 7 ? 200_000 : 1 + (index * 37) % 900
            let line = Array("\(index):".utf8) + [UInt8](repeating: UInt8(ascii: "a") + UInt8(index % 26), count: size) + [0x0A]
            input.write(line)
            expected += line
        }
        input.close()
        input.write(Array("after close\n".utf8))
        let received = await Self.readAll(readEnd)
        #expect(received.count == expected.count)
        #expect(received == expected)
    }

    @Test("a reader that goes away fails the writes without blocking or crashing")
    func readerGone() async throws {
        let (readEnd, writeEnd) = try Self.pipeEnds()
        signal(SIGPIPE, SIG_IGN)
        let pipeInode = Self.inode(writeEnd)
        let input = HostInput(fd: writeEnd)
        input.write([UInt8](repeating: 0x41, count: 300_000))
        close(readEnd)
        for _ in 0..<100 { input.write(Array("more\n".utf8)) }
        input.close()
        // The descriptor is closed once the queue is through (its number may then name another file).
        for _ in 0..<400 where Self.inode(writeEnd) == pipeInode {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(Self.inode(writeEnd) != pipeInode)
    }

    /// The inode `fd` names, nil when it is closed.
    static func inode(_ fd: Int32) -> UInt? {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt(info.st_ino) : nil
    }
}
