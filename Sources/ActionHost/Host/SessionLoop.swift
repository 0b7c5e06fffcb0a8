import FlowModel
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The session's state while events come in.
struct SessionLoop<Handler: ActionCallHandler> {
    let session: HostSession
    let handler: Handler
    let continuation: AsyncStream<HostEvent>.Continuation

    var sequence = 0
    /// How many of the invocation's ``LocalReplayStep``s the host reported answering.
    var answeredByHost = 0
    /// The engine's checks of the calls the host answered: each gives the
    /// error if the engine would not have answered the same, or nil. All are
    /// awaited before the action's outcome is known (the last batch comes with `done`).
    var answeredChecks: [Task<ActionError?, Never>] = []
    var callCount = 0
    /// Calls in flight, by an internal number; cancelled when the action stops.
    var calls: [Int: Task<Void, Never>] = [:]
    /// The internal number of each call in flight, by the host's id (its JSON text).
    var callNumbers: [String: Int] = [:]
    var timers: [Task<Void, Never>] = []
    var deadlineTimer: Task<Void, Never>?
    var deadlineReason = ""
    var deadline: ContinuousClock.Instant?
    var flowOptions: FlowOptions?
    var pythonVersion: String?
    var done: HostDone?
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
        if stop == nil && !calls.isEmpty { handler.callsCutOff() }
        for call in calls.values { call.cancel() }
        // Calls the host answered are decided and recorded whatever happened
        // after them (they run nothing); one the engine would not have answered so fails the action.
        for check in answeredChecks {
            if let problem = await check.value, failure == nil, stop == nil {
                failure = problem
            }
        }
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
        case .invalid(let reason):
            protocolFailure(reason)
        case .engineFailed(let error):
            guard done == nil, failure == nil else { return }
            failure = error
            session.child.signalGroup(SIGKILL)
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
        case .callFinished(let number, let id):
            calls.removeValue(forKey: number)
            if callNumbers[id] == number { callNumbers.removeValue(forKey: id) }
        case .stderrClosed:
            stderrClosed = true
        }
    }

    mutating func protocolFailure(_ message: String) {
        guard done == nil, failure == nil else { return }
        failure = ActionError(type: "ProtocolError", message: message)
        session.child.signalGroup(SIGKILL)
    }

    mutating func handleMessage(_ message: HostMessage) {
        switch message {
        case .hello(let protocolVersion, let version):
            pythonVersion = version
            guard protocolVersion == 1 else {
                protocolFailure("the Python host speaks protocol \(protocolVersion.map(String.init) ?? "?"), expected 1")
                return
            }
            if let version, Self.isOlderThan39(version) {
                failure = ActionError(type: "HostStartFailed", message: "Python \(version) is too old; the action host needs Python 3.9 or newer")
                session.child.signalGroup(SIGKILL)
                return
            }
            session.send(.start(session.invocation))
        case .flow(let options):
            flowOptions = options
            handler.flowOptionsRead(options)
            // A limit that is not a number of seconds up to a year is no limit (the engine's still applies).
            if let seconds = options.timeoutSeconds, let limit = try? Seconds.duration(seconds) {
                setDeadline(ContinuousClock.now + limit, reason: "\(DurationText.number(seconds)) s (flow timeout_seconds)")
            }
        case .log(let line):
            handler.log(line)
        case .call(let id, let call):
            sequence += 1
            dispatch(ActionCallRequest(sequence: sequence, call: call), id: id)
        case .replayed(let calls):
            let offered = session.invocation.localReplay
            for (index, call) in calls {
                guard index == answeredByHost, index < offered.count else {
                    protocolFailure(index < offered.count
                        ? "the host reported call \(index + 1) of its records where call \(answeredByHost + 1) was due"
                        : "the host answered more calls from their records than the engine offered (\(offered.count))")
                    return
                }
                answeredByHost += 1
                sequence += 1
                check(ActionCallRequest(sequence: sequence, call: call, answeredByHost: true), answered: offered[index])
            }
        case .callCancel(let id):
            if let number = callNumbers[id.jsonText] { calls[number]?.cancel() }
        case .taskEnd(let id, let step, let result, let attempts):
            dispatch(ActionCallRequest(sequence: 0, call: .taskEnd(step: step, result: result, attempts: attempts)), id: id)
        case .done(let report):
            if let count = report.answeredLocally, count != answeredByHost {
                protocolFailure("the host answered \(count) calls from their records but reported \(answeredByHost)")
            }
            done = report
            // The host should exit now; threads it left running must not keep it alive.
            let child = session.child, grace = session.runner.gracePeriod
            timers.append(Task {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { child.signalGroup(SIGKILL) }
            })
        }
    }

    mutating func dispatch(_ request: ActionCallRequest, id: JSONValue) {
        let handler = handler, session = session, continuation = continuation
        callCount += 1
        let number = callCount, key = id.jsonText
        callNumbers[key] = number
        // Started on this thread (until the call first waits), and resumed on it: no hop before the engine handles it.
        calls[number] = Task.immediate(executorPreference: session.executor) {
            let reply = await handler.handle(request)
            session.send(.result(id: id, reply: reply))
            continuation.yield(.callFinished(number, id: key))
        }
    }

    /// Decides and records a call the host answered itself; an engine that
    /// would not have answered the same fails the action (at once, and in
    /// the outcome, whenever the check ends).
    mutating func check(_ request: ActionCallRequest, answered step: LocalReplayStep) {
        let handler = handler, continuation = continuation
        answeredChecks.append(Task {
            let reply = await handler.handle(request)
            guard !step.agrees(with: reply) else { return nil }
            // The engine's own failure (its store) is said as such; any other answer means the host answered wrongly.
            let problem = if case .failure(let error) = reply, error.type == "EngineError" {
                ActionError(type: "EngineError", message: "call \(request.sequence) (\(step.name)), answered by the host from its record: \(error.message)")
            } else {
                ActionError(type: "ProtocolError", message: "the host answered call \(request.sequence) (\(step.name)) from its record, "
                                + "but the engine does not replay it with that result")
            }
            continuation.yield(.engineFailed(problem))
            return problem
        })
    }

    mutating func requestStop(_ status: ActionOutcome.Status, _ message: String) {
        guard stop == nil, done == nil, failure == nil else { return }
        stop = (status, message)
        session.send(.cancel(reason: status == .timedOut ? "timeout" : "cancelled"))
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
        let dropped = session.stderrState.withLock { $0.dropped } + (done?.logBytesDropped ?? 0)
        var result = ActionOutcome(status: .failed, value: nil, error: nil, flowOptions: flowOptions, logBytesDropped: dropped, pythonVersion: pythonVersion)
        if let stop {
            result.status = stop.status
            let detail = done?.error.map { ActionError(json: $0, fallbackType: "Cancelled") }
            result.error = ActionError(type: stop.status == .timedOut ? "Timeout" : "Cancelled", message: stop.message, traceback: detail?.traceback)
            return result
        }
        if let failure {
            result.error = failure
            return result
        }
        if let done {
            if done.succeeded {
                result.status = .succeeded
                result.value = done.value
            } else if done.cancelled {
                result.status = .cancelled
                result.error = ActionError(json: done.error, fallbackType: "Cancelled")
            } else {
                result.error = ActionError(json: done.error, fallbackType: "Exception")
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

    static func isOlderThan39(_ version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2 else { return false }
        return parts[0] < 3 || (parts[0] == 3 && parts[1] < 9)
    }
}
