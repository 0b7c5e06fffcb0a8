public import FlowModel
import Foundation

/// A long-lived `_flowrunner.render --serve` process, for a server that
/// renders Helm values at every hook run: importing Jinja2 costs tens of
/// milliseconds, a render of a compiled template well under one. Requests
/// go one at a time (one JSON line each way); the worker keeps the limits of
/// a one-off render per request (5 s of processor time, 1 GiB), and a
/// request it does not answer within ``answerDeadline`` kills it. A dead
/// worker is started again at the next request; it exits by itself when the
/// engine does (its stdin ends).
public actor ValuesRenderWorker {
    /// How long one answer may take, wall clock (the processor-time limit is 5 s).
    public static let answerDeadline: Duration = .seconds(20)

    let interpreter: PythonInterpreter
    let pythonDirectory: String
    private var running: (process: Process, input: FileHandle, output: Int32)?
    private var pending: [UInt8] = []
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// A worker on `interpreter` with the bundled package at `pythonDirectory`; nothing starts until the first request.
    public init(interpreter: PythonInterpreter, pythonDirectory: String) {
        self.interpreter = interpreter
        self.pythonDirectory = pythonDirectory
    }

    /// Renders as ``ValuesTemplate/render(_:file:context:interpreter:pythonDirectory:cacheDirectory:)`` does.
    /// With `thenStop`, the worker stops after answering unless another
    /// request waits for it (see ``HelmValues``' single-use renderer).
    ///
    /// - Throws: ``ActionHostError/Code/spawnFailed`` when the interpreter
    ///   cannot be started, or exits without an answer other than by a
    ///   signal (its limits), as a one-off render reports it.
    public func render(
        _ template: String, file: String, context: JSONValue, cacheDirectory: String?, thenStop: Bool = false
    ) async throws(ActionHostError) -> ValuesTemplate.Outcome {
        await take()
        defer { hand() }
        let request = ValuesTemplate.request(template, file: file, context: context, cacheDirectory: cacheDirectory)
        let worker = try start()
        var line = request.jsonBytes
        line.append(UInt8(ascii: "\n"))
        let written: Bool
        do {
            try worker.input.write(contentsOf: line)
            written = true
        } catch {
            written = false
        }
        let asked = ContinuousClock.now
        let reply = written ? await Self.readLine(from: worker.output, after: pending, deadline: Self.answerDeadline) : nil
        guard let reply, let answer = try? JSONValue(jsonBytes: reply.line) else {
            // Silent past the deadline: killed now. Otherwise it ended (or
            // answered garbage): how it ended says whose fault it was.
            let silent = written && reply == nil && ContinuousClock.now - asked >= Self.answerDeadline
            let process = worker.process
            try? worker.input.close()
            running = nil
            pending = []
            let end = await Self.ending(of: process, grace: silent ? .zero : .seconds(2))
            if !end.signalled {
                throw ActionHostError(.spawnFailed, "the renderer of \(file) failed (status \(end.status)) without an answer")
            }
            // Killed by its limits (or by the deadline): the template's doing, as for a one-off render.
            return .failed(message: "rendering was stopped after using its limits (5 s of processor time, 1 GiB of memory): "
                               + "a loop or a value that grows without end?", line: nil, missingJinja2: false)
        }
        pending = reply.rest
        if answer["exhausted"] == .bool(true) || (thenStop && waiting.isEmpty) { stop() }
        return ValuesTemplate.outcome(of: answer)
    }

    /// Stops the worker once no request is being answered (a later request starts another).
    public func stopWhenIdle() async {
        await take()
        stop()
        hand()
    }

    /// How `process` ended: waits up to `grace` for it to exit by itself (its stdin is closed), then kills it.
    static func ending(of process: Process, grace: Duration) async -> (signalled: Bool, status: Int32) {
        await withCheckedContinuation { continuation in
            BlockingThread.start("flowrunner-render-reap") {
                let end = ContinuousClock.now + grace
                while process.isRunning, ContinuousClock.now < end { usleep(5_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationReason == .uncaughtSignal, process.terminationStatus))
            }
        }
    }

    /// Starts the worker now unless it runs, so that its interpreter and
    /// Jinja2 load (most of a render's time) while the engine prepares the
    /// first request. A worker that cannot start is reported by that request.
    public func prewarm() {
        _ = try? start()
    }

    /// Stops the worker (a later request starts another).
    public func shutdown() {
        stop()
    }

    private func start() throws(ActionHostError) -> (process: Process, input: FileHandle, output: Int32) {
        if let running, running.process.isRunning { return running }
        stop()
        // A worker that dies mid-write makes the write fail with EPIPE, not kill the engine.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter.path)
        process.arguments = ["-S", "-B", "-m", "_flowrunner.render", "--serve"]
        process.environment = PythonHelper.environment(pythonDirectory: pythonDirectory)
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ActionHostError(.spawnFailed, "cannot run \(interpreter.path) to render values: \(error.localizedDescription)")
        }
        let worker = (process: process, input: stdin.fileHandleForWriting, output: stdout.fileHandleForReading.fileDescriptor)
        running = worker
        pending = []
        return worker
    }

    private func stop() {
        guard let running else { return }
        if running.process.isRunning { kill(running.process.processIdentifier, SIGKILL) }
        try? running.input.close()
        let process = running.process
        BlockingThread.start("flowrunner-render-reap") { process.waitUntilExit() }
        self.running = nil
        pending = []
    }

    /// Waits for its turn: one request at a time (the actor is re-entrant at every `await`).
    private func take() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
    }

    private func hand() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    /// One line from `descriptor` (after the bytes already read), on a
    /// thread of its own; nil at end of file or after `deadline`.
    static func readLine(from descriptor: Int32, after buffered: [UInt8], deadline: Duration) async -> (line: [UInt8], rest: [UInt8])? {
        await withCheckedContinuation { continuation in
            BlockingThread.start("flowrunner-render-read") {
                continuation.resume(returning: readLineBlocking(from: descriptor, after: buffered, deadline: deadline))
            }
        }
    }

    static func readLineBlocking(from descriptor: Int32, after buffered: [UInt8], deadline: Duration) -> (line: [UInt8], rest: [UInt8])? {
        var bytes = buffered
        let end = ContinuousClock.now + deadline
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                return (Array(bytes[..<newline]), Array(bytes[(newline + 1)...]))
            }
            let left = end - ContinuousClock.now
            guard left > .zero else { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + Int64(left.components.attoseconds / 1_000_000_000_000_000) + 1)
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            bytes.append(contentsOf: chunk[..<count])
            // An answer holds at most 4 MiB of values (render.py), escaped as JSON.
            if bytes.count > 64 << 20 { return nil }
        }
    }
}
