import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs action functions in a Python host process and serves their calls.
///
/// Contract:
/// - One host process per ``run(_:handler:)``, in its own process group,
///   with a minimal environment (no engine secrets), the bundled package
///   first on `PYTHONPATH` and the driver directory after it.
/// - The protocol is JSON Lines on the host's original stdin/stdout, which
///   the host claims before action code runs; everything the action prints
///   or logs, and all raw output on stderr, reaches the handler as log lines
///   (past ``logCapBytes`` it is dropped and counted).
/// - Whatever the action does (raise, exit, crash, hang, close or flood the
///   protocol channel) ``run(_:handler:)`` returns an ``ActionOutcome``; it
///   never throws and never leaves a process behind: at the end the whole
///   process group is killed and the host reaped.
/// - A timeout (the invocation's, or the flow's `timeout_seconds` when
///   shorter) or a cancellation of the calling task first asks the host to
///   cancel the action's coroutine (so `finally` blocks run), then sends
///   SIGTERM to the group after ``cancelGracePeriod`` (which unwinds even
///   synchronous code, running its `finally` blocks), then SIGKILL after
///   ``gracePeriod``.
public struct ActionRunner: Sendable {
    /// The interpreter the host runs on.
    public var interpreter: PythonInterpreter
    /// The directory holding the bundled package and `flowrunner_host.py`.
    public var pythonDirectory: String
    /// Environment variables the host may inherit (`PATH`, `HOME`, locale, `TZ`, `TMPDIR`).
    public var inheritedEnvironment: [String: String]
    /// How long a cancelled action gets to stop by itself before SIGTERM.
    public var cancelGracePeriod: Duration = .milliseconds(500)
    /// How long the host gets after SIGTERM (and after reporting its
    /// outcome) before SIGKILL.
    public var gracePeriod: Duration = .seconds(2)
    /// Longest protocol message accepted (16 MiB).
    public var maximumMessageBytes = 16 << 20
    /// Log output kept per action run (8 MiB); the rest is counted and dropped.
    public var logCapBytes = 8 << 20

    /// The variables a host inherits from the engine; everything else (tokens,
    /// kubeconfigs, the engine's own settings) stays out.
    static let inheritedNames: Set<String> = ["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR", "USER", "LOGNAME", "FLOWRUNNER_PYTHON_SITE"]

    /// Creates a runner; `environment` is filtered down to the inherited names.
    public init(interpreter: PythonInterpreter, pythonDirectory: String, environment: [String: String]) {
        self.interpreter = interpreter
        self.pythonDirectory = pythonDirectory
        self.inheritedEnvironment = environment.filter { Self.inheritedNames.contains($0.key) }
    }

    /// The host's environment for `invocation`.
    func environment(for invocation: ActionInvocation) -> [String: String] {
        var environment = inheritedEnvironment
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        environment["PYTHONPATH"] = pythonDirectory + ":" + invocation.driverDirectory
        environment["PYTHONIOENCODING"] = "utf-8"
        environment["PYTHONUNBUFFERED"] = "1"
        for (key, value) in invocation.extraEnvironment { environment[key] = value }
        return environment
    }

    /// Runs the action to its end (see the type's contract).
    public func run(_ invocation: ActionInvocation, handler: some ActionCallHandler) async -> ActionOutcome {
        var invocation = invocation
        guard let directory = realpath(invocation.driverDirectory, nil) else {
            let reason = "the driver directory \(invocation.driverDirectory) cannot be opened: \(String(cString: strerror(errno)))"
            return ActionOutcome(status: .failed, error: ActionError(type: "HostStartFailed", message: reason), logBytesDropped: 0)
        }
        invocation.driverDirectory = String(cString: directory)
        free(directory)
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                executable: interpreter.path, arguments: ["-S", pythonDirectory + "/flowrunner_host.py"],
                environment: environment(for: invocation)
            )
        } catch {
            return ActionOutcome(status: .failed, error: ActionError(type: "HostStartFailed", message: error.reason), logBytesDropped: 0)
        }
        let session = HostSession(runner: self, invocation: invocation, child: child)
        return await session.run(handler: handler)
    }
}

/// What the host's threads report to the session's loop.
enum HostEvent: Sendable {
    case message(JSONValue)
    case malformed(String)
    case oversized(String)
    case protocolClosed
    case exited(ExitStatus)
    case deadline
    case cancelRequested
    /// A call's reply was sent; its task handle can go.
    case callFinished(Int)
    /// The stderr reader reached the end (every raw line was delivered).
    case stderrClosed
}

/// One host process from spawn to reaping.
final class HostSession: Sendable {
    let runner: ActionRunner
    let invocation: ActionInvocation
    let child: ChildProcess
    /// Writes to the host's stdin, in order, on a thread of its own: a host
    /// that stops reading blocks this queue, never Swift's cooperative threads.
    let writer = DispatchQueue(label: "flowrunner.host.writer")
    /// False once the host's stdin is closed (touched only on `writer`).
    nonisolated(unsafe) var stdinOpen = true
    let stopReading = Atomic<Bool>(false)
    let stderrState = Mutex(StderrState())

    struct StderrState {
        var bytes = 0
        var dropped = 0
        var tail: [String] = []
    }

    init(runner: ActionRunner, invocation: ActionInvocation, child: ChildProcess) {
        self.runner = runner
        self.invocation = invocation
        self.child = child
    }

    /// Queues one message for the host (a dead host makes the write fail, not block).
    func send(_ message: JSONValue) {
        var bytes = message.jsonBytes
        bytes.append(0x0A)
        let line = bytes
        writer.async { [self] in
            if stdinOpen { _ = child.writeToStdin(line) }
        }
    }

    // MARK: Threads

    private func startThreads(_ continuation: AsyncStream<HostEvent>.Continuation, handler: some ActionCallHandler) {
        let maximum = runner.maximumMessageBytes
        BlockingThread.start("flowrunner.host.protocol") { [child] in
            let reader = LineReader(fd: child.stdoutFD, maximumLineLength: maximum)
            reader.run { event in
                switch event {
                case .line(let bytes):
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { return true }
                    do {
                        continuation.yield(.message(try JSONValue(parsing: bytes)))
                        return true
                    } catch {
                        continuation.yield(.malformed(Self.preview(bytes) + " (\(error))"))
                        return false
                    }
                case .oversized(let prefix):
                    continuation.yield(.oversized(Self.preview(prefix)))
                    return false
                }
            }
            close(child.stdoutFD)
            continuation.yield(.protocolClosed)
        }
        let cap = runner.logCapBytes
        BlockingThread.start("flowrunner.host.stderr") { [self] in
            var reader = LineReader(fd: child.stderrFD, maximumLineLength: 64 << 10)
            reader.shouldStop = { [self] in stopReading.load(ordering: .relaxed) }
            reader.run { event in
                let text: String
                switch event {
                case .line(let bytes): text = String(decoding: bytes, as: UTF8.self)
                case .oversized(let prefix): text = String(decoding: prefix, as: UTF8.self) + "… (line longer than 64 KiB cut)"
                }
                let keep = stderrState.withLock { state -> Bool in
                    state.tail.append(text)
                    if state.tail.count > 20 { state.tail.removeFirst() }
                    if state.bytes + text.utf8.count > cap {
                        state.dropped += text.utf8.count
                        return false
                    }
                    state.bytes += text.utf8.count
                    return true
                }
                if keep {
                    handler.log(ActionLogLine(level: "warning", logger: "stderr", message: text, time: Self.now()))
                }
                return true
            }
            close(child.stderrFD)
            continuation.yield(.stderrClosed)
        }
        BlockingThread.start("flowrunner.host.wait") { [child] in
            continuation.yield(.exited(child.waitForExit()))
        }
    }

    static func preview(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return "\"" + text + (bytes.count > 120 ? "…" : "") + "\""
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    // MARK: The loop

    func run(handler: some ActionCallHandler) async -> ActionOutcome {
        let (events, continuation) = AsyncStream.makeStream(of: HostEvent.self)
        startThreads(continuation, handler: handler)
        let started = ContinuousClock.now
        var loop = SessionLoop(session: self, handler: handler, continuation: continuation)
        if let timeout = invocation.timeout {
            loop.setDeadline(started + timeout, reason: "the engine's limit of \(DurationText.seconds(timeout))")
        }
        // The loop runs in its own task: cancelling the caller must not end
        // the event stream, only ask the action to stop (and wait for it).
        let loopTask = Task { [loop] in
            var loop = loop
            return await loop.run(events)
        }
        let outcome = await withTaskCancellationHandler {
            await loopTask.value
        } onCancel: {
            continuation.yield(.cancelRequested)
        }
        continuation.finish()
        return outcome
    }

    /// Stops everything that may still run: the group is killed, the stderr
    /// reader is told to stop once the pipe is drained or silent.
    func cleanUp() {
        child.signalGroup(SIGKILL)
        stopReading.store(true, ordering: .relaxed)
        writer.async { [self] in
            if stdinOpen { child.closeStdin() }
            stdinOpen = false
        }
    }
}

/// The session's state while events come in.
struct SessionLoop<Handler: ActionCallHandler> {
    let session: HostSession
    let handler: Handler
    let continuation: AsyncStream<HostEvent>.Continuation

    var sequence = 0
    var callCount = 0
    /// Calls in flight, by an internal number; cancelled when the action stops.
    var calls: [Int: Task<Void, Never>] = [:]
    var timers: [Task<Void, Never>] = []
    var deadlineTimer: Task<Void, Never>?
    var deadlineReason = ""
    var deadline: ContinuousClock.Instant?
    var flowOptions: FlowOptions?
    var pythonVersion: String?
    var done: JSONValue?
    var failure: ActionError?
    var stop: (status: ActionOutcome.Status, message: String)?
    var exitStatus: ExitStatus?
    var protocolClosed = false
    var stderrClosed = false

    init(session: HostSession, handler: Handler, continuation: AsyncStream<HostEvent>.Continuation) {
        self.session = session
        self.handler = handler
        self.continuation = continuation
    }

    mutating func setDeadline(_ instant: ContinuousClock.Instant, reason: String) {
        if let deadline, deadline <= instant { return }
        deadline = instant
        deadlineReason = reason
        deadlineTimer?.cancel()
        let continuation = continuation
        deadlineTimer = Task {
            try? await Task.sleep(until: instant, clock: .continuous)
            if !Task.isCancelled { continuation.yield(.deadline) }
        }
    }

    mutating func run(_ events: AsyncStream<HostEvent>) async -> ActionOutcome {
        var iterator = events.makeAsyncIterator()
        while let event = await iterator.next() {
            handle(event)
            if exitStatus != nil && protocolClosed { break }
        }
        deadlineTimer?.cancel()
        for timer in timers { timer.cancel() }
        for call in calls.values { call.cancel() }
        session.cleanUp()
        // Deliver the last raw output (bounded: a process that left the group may hold stderr).
        if !stderrClosed {
            let continuation = continuation
            let giveUp = Task {
                try? await Task.sleep(for: .seconds(1))
                if !Task.isCancelled { continuation.yield(.stderrClosed) }
            }
            while let event = await iterator.next() {
                if case .stderrClosed = event { break }
            }
            giveUp.cancel()
        }
        return outcome()
    }

    mutating func handle(_ event: HostEvent) {
        switch event {
        case .message(let message):
            handleMessage(message)
        case .malformed(let preview):
            protocolFailure("malformed message on the protocol channel: \(preview)")
        case .oversized(let preview):
            protocolFailure("a protocol message longer than \(session.runner.maximumMessageBytes >> 20) MiB (starting \(preview))")
        case .protocolClosed:
            protocolClosed = true
        case .exited(let status):
            exitStatus = status
            // Whatever the host left behind (a forked child holding the
            // protocol pipe) goes with it; if the pipe still does not close
            // (a process that left the group), stop waiting for it.
            let child = session.child, continuation = continuation
            timers.append(Task {
                try? await Task.sleep(for: .milliseconds(100))
                if Task.isCancelled { return }
                child.signalGroup(SIGKILL)
                try? await Task.sleep(for: .seconds(2))
                if !Task.isCancelled { continuation.yield(.protocolClosed) }
            })
        case .deadline:
            requestStop(.timedOut, "the action timed out after \(deadlineReason)")
        case .cancelRequested:
            requestStop(.cancelled, "the action was cancelled")
        case .callFinished(let number):
            calls.removeValue(forKey: number)
        case .stderrClosed:
            stderrClosed = true
        }
    }

    mutating func protocolFailure(_ message: String) {
        guard done == nil, failure == nil else { return }
        failure = ActionError(type: "ProtocolError", message: message)
        session.child.signalGroup(SIGKILL)
    }

    mutating func handleMessage(_ message: JSONValue) {
        switch message["type"]?.stringValue {
        case "hello":
            let protocolVersion = message["protocol"]?.intValue
            pythonVersion = message["python"]?.stringValue
            guard protocolVersion == 1 else {
                protocolFailure("the Python host speaks protocol \(protocolVersion.map(String.init) ?? "?"), expected 1")
                return
            }
            if let version = pythonVersion, Self.isOlderThan39(version) {
                failure = ActionError(type: "HostStartFailed", message: "Python \(version) is too old; the action host needs Python 3.9 or newer")
                session.child.signalGroup(SIGKILL)
                return
            }
            let invocation = session.invocation
            session.send([
                "type": "start", "protocol": 1, "action": .string(invocation.action), "file": .string(invocation.file),
                "function": .string(invocation.function), "directory": .string(invocation.driverDirectory),
                "arguments": .object(invocation.arguments), "flow_run": .object(invocation.flowRun),
            ])
        case "flow":
            let options = Self.flowOptions(message["options"])
            flowOptions = options
            handler.flowOptionsRead(options)
            if let seconds = options.timeoutSeconds, seconds > 0 {
                setDeadline(ContinuousClock.now + .milliseconds(Int64(seconds * 1000)), reason: "\(DurationText.number(seconds)) s (flow timeout_seconds)")
            }
        case "log":
            handler.log(ActionLogLine(
                level: message["level"]?.stringValue ?? "info", logger: message["logger"]?.stringValue ?? "action",
                message: message["message"]?.stringValue ?? "", time: message["time"]?.doubleValue ?? HostSession.now()
            ))
        case "call":
            guard let id = message["id"], let name = message["name"]?.stringValue else {
                protocolFailure("a call without id or name")
                return
            }
            let call: ActionCall
            switch message["kind"]?.stringValue {
            case "primitive":
                call = .primitive(name: name, deployment: message["deployment"]?.stringValue, arguments: message["args"] ?? .object([:]))
            case "task":
                call = .taskBegin(name: name, arguments: message["args"] ?? .object([:]))
            default:
                protocolFailure("a call of unknown kind \(message["kind"]?.jsonText ?? "null")")
                return
            }
            sequence += 1
            dispatch(ActionCallRequest(sequence: sequence, call: call), id: id)
        case "task_end":
            guard let id = message["id"] else {
                protocolFailure("a task end without id")
                return
            }
            let result: Result<JSONValue, ActionError> = message["ok"]?.boolValue == true
                ? .success(message["value"] ?? .null)
                : .failure(ActionError(json: message["error"], fallbackType: "Exception"))
            let attempts = Int(message["attempts"]?.intValue ?? 1)
            dispatch(ActionCallRequest(sequence: 0, call: .taskEnd(step: message["step"] ?? .null, result: result, attempts: attempts)), id: id)
        case "done":
            done = message
            // The host should exit now; threads it left running must not keep it alive.
            let child = session.child, grace = session.runner.gracePeriod
            timers.append(Task {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { child.signalGroup(SIGKILL) }
            })
        default:
            protocolFailure("a message of unknown type \(message["type"]?.jsonText ?? "null")")
        }
    }

    mutating func dispatch(_ request: ActionCallRequest, id: JSONValue) {
        let handler = handler, session = session, continuation = continuation
        callCount += 1
        let number = callCount
        calls[number] = Task {
            let reply = await handler.handle(request)
            var message: [String: JSONValue] = ["type": "result", "id": id]
            switch reply {
            case .value(let value):
                message["ok"] = true
                message["value"] = value
            case .failure(let error):
                message["ok"] = false
                message["error"] = error.json
            case .replayTask(let value):
                message["ok"] = true
                message["replay"] = true
                message["value"] = value
            case .runTask(let step):
                message["ok"] = true
                message["replay"] = false
                message["step"] = step
            }
            session.send(.object(message))
            continuation.yield(.callFinished(number))
        }
    }

    mutating func requestStop(_ status: ActionOutcome.Status, _ message: String) {
        guard stop == nil, done == nil, failure == nil else { return }
        stop = (status, message)
        session.send(["type": "cancel", "reason": .string(status == .timedOut ? "timeout" : "cancelled")])
        for call in calls.values { call.cancel() }
        let child = session.child, grace = session.runner.gracePeriod, first = session.runner.cancelGracePeriod
        timers.append(Task {
            try? await Task.sleep(for: first)
            if Task.isCancelled { return }
            child.signalGroup(SIGTERM)
            try? await Task.sleep(for: grace)
            if Task.isCancelled { return }
            child.signalGroup(SIGKILL)
        })
    }

    func outcome() -> ActionOutcome {
        let dropped = session.stderrState.withLock { $0.dropped } + Int(done?["log_bytes_dropped"]?.intValue ?? 0)
        var result = ActionOutcome(status: .failed, value: nil, error: nil, flowOptions: flowOptions, logBytesDropped: dropped, pythonVersion: pythonVersion)
        if let stop {
            result.status = stop.status
            let detail = done?["error"].map { ActionError(json: $0, fallbackType: "Cancelled") }
            result.error = ActionError(type: stop.status == .timedOut ? "Timeout" : "Cancelled", message: stop.message, traceback: detail?.traceback)
            return result
        }
        if let failure {
            result.error = failure
            return result
        }
        if let done {
            if done["ok"]?.boolValue == true {
                result.status = .succeeded
                result.value = done["value"] ?? .null
            } else if done["cancelled"]?.boolValue == true {
                result.status = .cancelled
                result.error = ActionError(json: done["error"], fallbackType: "Cancelled")
            } else {
                result.error = ActionError(json: done["error"], fallbackType: "Exception")
            }
            return result
        }
        let tail = session.stderrState.withLock { $0.tail.suffix(8).joined(separator: "\n") }
        let status = exitStatus?.description ?? "ended"
        let stage = pythonVersion == nil ? "before it said hello" : "before the action finished"
        var message = "the Python host \(status) \(stage)"
        if protocolClosed, case .exited(let code) = exitStatus, code == 0 || code == 3 {
            message = "the protocol channel closed (the Python host \(status)) \(stage)"
        }
        if !tail.isEmpty { message += "; last output:\n" + tail }
        result.error = ActionError(type: "HostCrashed", message: message)
        return result
    }

    static func flowOptions(_ json: JSONValue?) -> FlowOptions {
        FlowOptions(
            name: json?["name"]?.stringValue,
            retries: Int(json?["retries"]?.intValue ?? 0),
            retryDelaySeconds: json?["retry_delay_seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? [0],
            timeoutSeconds: json?["timeout_seconds"]?.doubleValue,
            logPrints: json?["log_prints"]?.boolValue,
            description: json?["description"]?.stringValue
        )
    }

    static func isOlderThan39(_ version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return false }
        return parts[0] < 3 || (parts[0] == 3 && parts[1] < 9)
    }
}

/// A thread of its own for work that blocks (reading a pipe, waiting for a
/// process): Dispatch's pool is bounded, and many sessions blocking in it
/// would make the others wait for a free thread.
enum BlockingThread {
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.stackSize = 256 << 10
        thread.start()
    }
}

/// Durations in messages: `5 s`, `0.5 s`.
enum DurationText {
    static func number(_ seconds: Double) -> String {
        seconds.rounded() == seconds ? String(Int(seconds)) : String(seconds)
    }

    static func seconds(_ duration: Duration) -> String {
        number(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) + " s"
    }
}
