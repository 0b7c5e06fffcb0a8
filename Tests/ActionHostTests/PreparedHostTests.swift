@testable import ActionHost
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Hosts started ahead of their action")
struct PreparedHostTests {
    let runner = HostFixtures.runner

    /// Whether process `pid` is gone (reaped), waiting up to 20 s for it.
    static func ends(_ pid: pid_t) async -> Bool {
        for _ in 0..<400 {
            if kill(pid, 0) == -1 && errno == ESRCH { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test("a host started ahead runs the action it is then given")
    func runsTheAction() async throws {
        let prepared = try #require(await runner.prepare(driverDirectory: HostFixtures.myApp, isEngineCopy: false))
        let pid = prepared.child.pid
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("upgrade", directory: HostFixtures.myApp), handler: handler, prepared: prepared)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(handler.primitiveNames == ["stop_components", "upgrade_deployment_version", "get_component_images", "execute_commands", "start_components"])
        #expect(await Self.ends(pid))
    }

    @Test("until its start message a host started ahead runs no driver code, and discarding it ends it")
    func noDriverCodeBeforeStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowrunner-prepared-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/imported"
        try "open(\(String(reflecting: marker)), \"w\").close()\n\nasync def upgrade(context, target_version):\n    return 1\n"
            .write(toFile: directory + "/actions.py", atomically: true, encoding: .utf8)
        let prepared = try #require(await runner.prepare(driverDirectory: directory, isEngineCopy: false))
        let pid = prepared.child.pid
        // Time enough for any interpreter to start and import it, had it been told to.
        try await Task.sleep(for: .seconds(1))
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(kill(pid, 0) == 0, "the host waits for its start message")
        prepared.discard()
        prepared.discard()
        #expect(await Self.ends(pid))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a host started in another driver directory is discarded; the action runs in its own")
    func otherDirectory() async throws {
        let prepared = try #require(await runner.prepare(driverDirectory: HostFixtures.driver, isEngineCopy: false))
        let pid = prepared.child.pid
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("upgrade", directory: HostFixtures.myApp), handler: handler, prepared: prepared)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(handler.primitiveNames.count == 5)
        #expect(await Self.ends(pid))
    }

    @Test("a host started ahead that nothing takes ends when it is released")
    func released() async throws {
        var prepared = await runner.prepare(driverDirectory: HostFixtures.myApp, isEngineCopy: false)
        let pid = try #require(prepared?.child.pid)
        #expect(kill(pid, 0) == 0)
        prepared = nil
        #expect(prepared == nil)
        #expect(await Self.ends(pid))
    }

    @Test("no host is started ahead in a directory that cannot be opened")
    func missingDirectory() async {
        #expect(await runner.prepare(driverDirectory: "/nonexistent/flowrunner-driver", isEngineCopy: false) == nil)
    }
}
