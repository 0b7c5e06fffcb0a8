import Dispatch
import FlowModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the host's threads report to the session's loop.
enum HostEvent: Sendable {
    case message(HostMessage)
    case malformed(String)
    /// Well-formed JSON that protocol 1 does not allow.
    case invalid(String)
    /// A call the host answered itself (local replay) that the engine would
    /// not have answered the same, or could not record: the action fails with `error`.
    case engineFailed(ActionError)
    case oversized(String)
    case protocolClosed
    case exited(ExitStatus)
    case deadline
    case cancelRequested
    /// A call's reply was sent; its task handle can go.
    case callFinished(Int, id: String)
    /// The stderr reader reached the end (every raw line was delivered).
    case stderrClosed
}

/// One host process from spawn to reaping.
final class HostSession: Sendable {
    let runner: ActionRunner
    let invocation: ActionInvocation
    let child: ChildProcess
    /// The host's stdin: messages in order, never a blocked cooperative thread.
    let input: HostInput
    let stopReading = Atomic<Bool>(false)
    let stderrState = Mutex(StderrState())
    /// The session's own thread: the loop and the calls run there.
    let executor = SessionExecutor()

    struct StderrState {
        var bytes = 0
        var dropped = 0
        var tail: [String] = []
    }

    init(runner: ActionRunner, invocation: ActionInvocation, child: ChildProcess) {
        self.runner = runner
        self.invocation = invocation
        self.child = child
        self.input = HostInput(fd: child.stdinFD)
    }

    /// Queues one message for the host (a dead host makes the write fail, not block).
    func send(_ message: EngineMessage) {
        input.write(message.line)
    }

    // MARK: Threads

    /// What the session's thread does with each line of the protocol pipe.
    private func protocolInput(_ continuation: AsyncStream<HostEvent>.Continuation) -> SessionExecutor.Input {
        SessionExecutor.Input(fd: child.stdoutFD, maximumLineLength: runner.maximumMessageBytes, handle: { event in
            switch event {
            case .line(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { return true }
                do {
                    let json = try JSONValue(jsonBytes: bytes)
                    continuation.yield(.message(try HostMessage(json: json, now: Self.now)))
                    return true
                } catch let error as JSONTextError {
                    continuation.yield(.malformed(Self.preview(bytes) + " (\(error))"))
                    return false
                } catch {
                    continuation.yield(.invalid((error as? HostMessageError)?.reason ?? "\(error)"))
                    return false
                }
            case .oversized(let prefix):
                continuation.yield(.oversized(Self.preview(prefix)))
                return false
            }
        }, closed: {
            continuation.yield(.protocolClosed)
        })
    }

    private func startThreads(_ continuation: AsyncStream<HostEvent>.Continuation, handler: some ActionCallHandler) {
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
        executor.start(reading: protocolInput(continuation))
        startThreads(continuation, handler: handler)
        let started = ContinuousClock.now
        var loop = SessionLoop(session: self, handler: handler, continuation: continuation)
        if let timeout = invocation.timeout {
            loop.setDeadline(started + timeout, reason: "the engine's limit of \(DurationText.seconds(timeout))")
        }
        // The loop runs in its own task, on the session's thread: cancelling
        // the caller must not end the event stream, only ask the action to
        // stop (and wait for it).
        let loopTask = Task(executorPreference: executor) { [loop] in
            var loop = loop
            return await loop.run(events)
        }
        let outcome = await withTaskCancellationHandler {
            await loopTask.value
        } onCancel: {
            continuation.yield(.cancelRequested)
        }
        continuation.finish()
        executor.finish()
        return outcome
    }

    /// Stops everything that may still run: the group is killed, the stderr
    /// reader is told to stop once the pipe is drained or silent.
    func cleanUp() {
        child.signalGroup(SIGKILL)
        stopReading.store(true, ordering: .relaxed)
        input.close()
    }
}
