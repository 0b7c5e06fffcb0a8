import FlowModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Reading files named from outside: regular files only, never a hang")
struct RegularFileTests {
    @Test("a FIFO, a directory and a missing file are refused by name; a regular file is read")
    func kinds() throws {
        let directory = NSTemporaryDirectory() + "flowrunner-regular-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fifo = directory + "/spec.yml"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Reading a FIFO nobody writes would block for ever; it must be refused at once.
        #expect(throws: RegularFile.ReadError.self) { try RegularFile.contents(atPath: fifo) }
        #expect((try? RegularFile.irregularKind(atPath: fifo)) == "a FIFO (named pipe)")
        #expect((try? RegularFile.irregularKind(atPath: directory)) == "a directory")
        do {
            _ = try RegularFile.contents(atPath: directory + "/missing")
            Issue.record("a missing file was read")
        } catch {
            #expect(error.reason == "does not exist")
        }
        let file = directory + "/ok.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try RegularFile.contents(atPath: file) == Data("hello".utf8))
        #expect(throws: RegularFile.ReadError.self) { try RegularFile.contents(atPath: file, maximumBytes: 3) }
    }
}
