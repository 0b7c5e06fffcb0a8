@testable import ActionHost
import Foundation
import Testing

@Suite("Resolving the Python interpreter")
struct InterpreterTests {
    static let realPython: String? = {
        let environment = ProcessInfo.processInfo.environment
        return try? PythonInterpreter.resolve(environment: environment).path
    }()

    /// Writes an executable script from another process: a file this process
    /// opened for writing could be inherited by a child that another test
    /// forks at that moment, and exec of a file open for writing fails (ETXTBSY).
    func writeExecutable(_ path: String, _ text: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "printf '%s' \"$2\" > \"$1.tmp\" && chmod 755 \"$1.tmp\" && mv \"$1.tmp\" \"$1\"", "sh", path, text]
        try process.run()
        process.waitUntilExit()
    }

    func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "flowrunner-python-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("a shell shim is resolved to the real interpreter once, then answered from the cache")
    func shim() async throws {
        let real = try #require(Self.realPython)
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Processes are waited for off the cooperative threads, like every test that spawns;
        // only results come back, the expectations stay here.
        let outcome = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(String, Bool, String, ActionHostError?), any Error>) in
            DispatchQueue.global().async {
                do {
                    let shim = directory + "/bin/python3"
                    try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
                    try self.writeExecutable(shim, "#!/bin/sh\nexec \(real) \"$@\"\n")
                    let cache = directory + "/cache/python.json"
                    let environment = ["PATH": directory + "/bin"]
                    let first = try PythonInterpreter.resolve(environment: environment, cacheFile: cache).path
                    let cached = FileManager.default.fileExists(atPath: cache)
                    // A shim that no longer works is not run again: the cache answers.
                    try self.writeExecutable(shim, "#!/bin/sh\nexit 1\n")
                    let second = try PythonInterpreter.resolve(environment: environment, cacheFile: cache).path
                    // Another PYENV_VERSION is another key: the broken shim is asked, and refused clearly.
                    var refusal: ActionHostError?
                    do {
                        _ = try PythonInterpreter.resolve(environment: environment.merging(["PYENV_VERSION": "3.12"]) { $1 }, cacheFile: cache)
                    } catch {
                        refusal = error as? ActionHostError
                    }
                    continuation.resume(returning: (first, cached, second, refusal))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        #expect(outcome.0 == real)
        #expect(outcome.1)
        #expect(outcome.2 == real)
        #expect(outcome.3?.code == .interpreterNotFound)
        #expect(outcome.3?.reason.contains(directory + "/bin/python3") == true)
    }

    @Test("a native executable is used as it is; --python and FLOWRUNNER_PYTHON win over PATH")
    func explicit() throws {
        let real = try #require(Self.realPython)
        #expect(PythonInterpreter.isNativeExecutable(real))
        #expect(try PythonInterpreter.resolve(explicit: real, environment: ["PATH": "/nowhere"]).path == real)
        #expect(try PythonInterpreter.resolve(environment: ["PATH": "/nowhere", "FLOWRUNNER_PYTHON": real]).path == real)
    }

    @Test("no interpreter is a clear error")
    func missing() {
        let error = #expect(throws: ActionHostError.self) { try PythonInterpreter.resolve(environment: ["PATH": "/nowhere"]) }
        #expect(error?.reason.contains("no python3 on PATH") == true)
        #expect(throws: ActionHostError.self) { try PythonInterpreter.resolve(explicit: "/no/such/python", environment: [:]) }
    }

    @Test("versions older than 3.9 are refused", arguments: [("3.8.18", true), ("2.7.18", true), ("3.9.0", false), ("3.13.1", false), ("4.0", false)])
    func tooOld(_ version: String, _ refused: Bool) {
        #expect(SessionLoop<RecordingHandler>.isOlderThan39(version) == refused)
    }
}
