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
        let output = try await PythonHelper.run("check", input: request, interpreter: interpreter, pythonDirectory: pythonDirectory,
                                                purpose: "check the driver's Python files")
        guard output.status == 0, let findings = try? JSONDecoder().decode([PythonFinding].self, from: output.stdout) else {
            throw ActionHostError(.spawnFailed, "the check of the driver's Python files failed (status \(output.status)): \(output.stderrTail)")
        }
        return findings
    }
}
