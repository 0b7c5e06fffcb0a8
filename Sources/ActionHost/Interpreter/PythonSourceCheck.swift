import Foundation

/// A finding of ``PythonSourceCheck``: a 1-based position in a driver file.
public struct PythonFinding: Sendable, Hashable, Decodable {
    /// The file as the findings name it (the display prefix, then its relative path).
    public var file: String
    /// 1-based line; 0 when the whole file is meant.
    public var line: Int
    /// 1-based column; 0 when unknown.
    public var column: Int
    public var message: String
}

/// Checks a driver's Python files without running them (the bundled
/// `_flowrunner/check.py`, on the real interpreter): every file compiles, and
/// every name imported from the modules FlowRunner provides
/// (`styrmin_backend.actions`, `prefect`) exists, with "did you mean".
public enum PythonSourceCheck {
    /// Checks `files` (paths relative to `directory`), naming them
    /// `displayPrefix + path` in findings. The interpreter runs on a thread
    /// of its own; the caller's task only waits.
    /// - Throws: ``ActionHostError/Code/spawnFailed`` when the checker cannot
    ///   run or answers with something other than its JSON list.
    public static func run(
        interpreter: PythonInterpreter, pythonDirectory: String, directory: String, files: [String], displayPrefix: String
    ) async throws(ActionHostError) -> [PythonFinding] {
        guard !files.isEmpty else { return [] }
        let request: Data
        do {
            request = try JSONSerialization.data(withJSONObject: ["directory": directory, "files": files, "display": displayPrefix])
        } catch {
            throw ActionHostError(.spawnFailed, "cannot encode the Python check's request: \(error)")
        }
        let result: Result<[PythonFinding], ActionHostError> = await withCheckedContinuation { continuation in
            BlockingThread.start("flowrunner-python-check") {
                continuation.resume(returning: runBlocking(interpreter: interpreter, pythonDirectory: pythonDirectory, request: request))
            }
        }
        return try result.get()
    }

    private static func runBlocking(interpreter: PythonInterpreter, pythonDirectory: String, request: Data) -> Result<[PythonFinding], ActionHostError> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter.path)
        process.arguments = ["-S", "-B", "-m", "_flowrunner.check"]
        var environment = ProcessInfo.processInfo.environment.filter { ActionRunner.inheritedNames.contains($0.key) }
        environment["PYTHONPATH"] = pythonDirectory
        environment["PYTHONIOENCODING"] = "utf-8"
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return .failure(ActionHostError(.spawnFailed, "cannot run \(interpreter.path) to check the driver's Python files: \(error.localizedDescription)"))
        }
        try? input.fileHandleForWriting.write(contentsOf: request)
        try? input.fileHandleForWriting.close()
        nonisolated(unsafe) var errorText = Data()
        let drained = DispatchSemaphore(value: 0)
        BlockingThread.start("flowrunner-python-check-stderr") {
            errorText = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let findings = try? JSONDecoder().decode([PythonFinding].self, from: answer) else {
            let detail = String(decoding: errorText.suffix(2000), as: UTF8.self)
            return .failure(ActionHostError(.spawnFailed, "the check of the driver's Python files failed (status \(process.terminationStatus)): \(detail)"))
        }
        return .success(findings)
    }
}
