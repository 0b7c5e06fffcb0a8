import Foundation

/// Runs the real `flowrunner` binary built beside the test bundle.
struct FlowRunnerBinary {
    /// The repository root, found from this source file.
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `$FLOWRUNNER_BIN`, else `flowrunner` next to the running test executable.
    static let path: String = {
        if let override = ProcessInfo.processInfo.environment["FLOWRUNNER_BIN"] { return override }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On macOS the test executable sits inside an .xctest bundle.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("flowrunner").path
    }()

    /// What one invocation did.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The environment every invocation gets: the test process's, and where
    /// actions cannot be isolated (not root) the explicit opt-out, so the
    /// suite runs for a developer too (isolation itself is tested as root).
    static var baseEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if geteuid() != 0 { environment["FLOWRUNNER_UNISOLATED_ACTIONS"] = "1" }
        return environment
    }

    /// Runs `flowrunner ARGS` with `environment` added, from `directory`.
    /// The waiting happens on a thread of its own: tests that wait for a
    /// process must not block Swift's cooperative threads, or tests running
    /// beside them (which poll, time out, or stream) starve.
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try runBlocking(arguments, environment: environment, in: directory))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static func runBlocking(_ arguments: [String], environment: [String: String], in directory: String?) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = baseEnvironment.merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? repository)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }
}
