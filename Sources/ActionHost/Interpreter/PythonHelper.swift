import Foundation

/// Runs one of the bundled `_flowrunner` helper modules (`check`, `unpack`)
/// as `python -S -B -m _flowrunner.NAME ARGUMENTS`, with `input` on stdin,
/// on a thread of its own so the caller's task only waits.
enum PythonHelper {
    /// What the helper wrote and how it ended.
    struct Output: Sendable {
        var status: Int32
        /// True when a signal ended the helper (a resource limit, say), `status` its number.
        var killedBySignal = false
        var stdout: Data
        /// The last 2,000 bytes of stderr.
        var stderrTail: String
    }

    /// Runs `_flowrunner.<module>`; `purpose` completes "cannot run python to …" in errors.
    ///
    /// - Throws: ``ActionHostError/Code/spawnFailed`` when the interpreter cannot be started.
    static func run(
        _ module: String, arguments: [String] = [], input: Data, interpreter: PythonInterpreter, pythonDirectory: String, purpose: String
    ) async throws(ActionHostError) -> Output {
        let result: Result<Output, ActionHostError> = await withCheckedContinuation { continuation in
            BlockingThread.start("flowrunner-python-\(module)") {
                continuation.resume(returning: runBlocking(module, arguments: arguments, input: input, interpreter: interpreter,
                                                           pythonDirectory: pythonDirectory, purpose: purpose))
            }
        }
        return try result.get()
    }

    /// A helper's environment: the engine's inherited names only (no tokens
    /// or kubeconfigs), the bundled package on the path, UTF-8 on its pipes.
    static func environment(pythonDirectory: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { ActionRunner.inheritedNames.contains($0.key) }
        environment["PYTHONPATH"] = pythonDirectory
        environment["PYTHONIOENCODING"] = "utf-8"
        return environment
    }

    private static func runBlocking(
        _ module: String, arguments: [String], input: Data, interpreter: PythonInterpreter, pythonDirectory: String, purpose: String
    ) -> Result<Output, ActionHostError> {
        // A helper that exits before reading all of its input makes the write fail with EPIPE, not kill the engine.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter.path)
        process.arguments = ["-S", "-B", "-m", "_flowrunner.\(module)"] + arguments
        process.environment = environment(pythonDirectory: pythonDirectory)
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            return .failure(ActionHostError(.spawnFailed, "cannot run \(interpreter.path) to \(purpose): \(error.localizedDescription)"))
        }
        // stdin is written and stderr drained on threads of their own, so a
        // helper that answers before reading all of its input cannot deadlock.
        let finished = DispatchGroup()
        nonisolated(unsafe) var errorText = Data()
        finished.enter()
        BlockingThread.start("flowrunner-python-\(module)-stdin") {
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
            finished.leave()
        }
        finished.enter()
        BlockingThread.start("flowrunner-python-\(module)-stderr") {
            errorText = stderr.fileHandleForReading.readDataToEndOfFile()
            finished.leave()
        }
        let answer = stdout.fileHandleForReading.readDataToEndOfFile()
        finished.wait()
        process.waitUntilExit()
        return .success(Output(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                               stdout: answer, stderrTail: String(decoding: errorText.suffix(2000), as: UTF8.self)))
    }
}
