@testable import ActionHost
import Foundation
import Testing

@Suite("Bytecode of the directories the engine owns")
struct BytecodeCacheTests {
    /// The source size a module's compiled file records (its header, PEP 552), nil when there is none.
    static func compiledSourceSize(_ module: String, in directory: String) throws -> UInt32? {
        let cache = directory + "/__pycache__"
        guard let name = try? FileManager.default.contentsOfDirectory(atPath: cache).first(where: { $0.hasPrefix(module + ".") }),
              let header = FileManager.default.contents(atPath: cache + "/" + name), header.count >= 16 else { return nil }
        return header[12..<16].reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test("sources replaced in place are compiled again; unchanged ones are not")
    func recompilesChangedSources() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowrunner-bytecode-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "VALUE = 1\n".write(toFile: directory + "/module.py", atomically: true, encoding: .utf8)
        let runner = HostFixtures.runner
        await BytecodeCache().prepare(directory: directory, interpreter: runner.interpreter, pythonDirectory: runner.pythonDirectory)
        #expect(try Self.compiledSourceSize("module", in: directory) == 10)
        let marker = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix(".flowrunner-bytecode-") })
        let markerDate = try FileManager.default.attributesOfItem(atPath: directory + "/" + marker)[.modificationDate] as? Date

        // Another process, the same sources: nothing to do (the marker stays as it was).
        try await Task.sleep(for: .milliseconds(20))
        await BytecodeCache().prepare(directory: directory, interpreter: runner.interpreter, pythonDirectory: runner.pythonDirectory)
        #expect(try FileManager.default.attributesOfItem(atPath: directory + "/" + marker)[.modificationDate] as? Date == markerDate)

        // The source replaced (a reinstall): the next process compiles it again.
        try "VALUE = 12345\n".write(toFile: directory + "/module.py", atomically: true, encoding: .utf8)
        await BytecodeCache().prepare(directory: directory, interpreter: runner.interpreter, pythonDirectory: runner.pythonDirectory)
        #expect(try Self.compiledSourceSize("module", in: directory) == 14)
    }

    @Test("the fingerprint follows each source's path, size and time, and ignores compiled files")
    func fingerprint() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowrunner-bytecode-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/package/__pycache__", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "A = 1\n".write(toFile: directory + "/package/a.py", atomically: true, encoding: .utf8)
        let first = BytecodeCache.fingerprint(of: directory)
        try "compiled".write(toFile: directory + "/package/__pycache__/a.cpython-311.pyc", atomically: true, encoding: .utf8)
        try "notes".write(toFile: directory + "/package/README", atomically: true, encoding: .utf8)
        #expect(BytecodeCache.fingerprint(of: directory) == first)
        try "A = 2\n".write(toFile: directory + "/package/a.py", atomically: true, encoding: .utf8)
        #expect(BytecodeCache.fingerprint(of: directory) != first, "same size, another modification time")
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("package/a.py\t6\t"))
    }
}
