import FlowModel
import FlowRunner
import Foundation
import Synchronization

/// Live progress of a run in the terminal: one line per step as it starts
/// and as it ends (on a terminal the start line is replaced by the end line),
/// plain lines when stdout is not a terminal. A step that runs long shows
/// how long it has been running: on a terminal its start line counts up
/// every second, otherwise a line every 30 s (`$FLOWRUNNER_PROGRESS_SECONDS`)
/// says it still runs.
final class ProgressPrinter: RunObserver {
    let interactive: Bool
    let showLogs: Bool
    private let pendingStart = Mutex<Bool>(false)
    /// Steps running now: their start line and when they started.
    private let running = Mutex<[Int: (line: String, started: ContinuousClock.Instant)]>([:])
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    /// How often a line says a step still runs when stdout is not a terminal.
    let reportEvery: Duration

    init(showLogs: Bool = false) {
        interactive = isatty(STDOUT_FILENO) == 1
        self.showLogs = showLogs
        let seconds = ProcessInfo.processInfo.environment["FLOWRUNNER_PROGRESS_SECONDS"].flatMap(Int.init) ?? 30
        reportEvery = .seconds(min(max(seconds, 1), 3600))
    }

    deinit {
        ticker.withLock { $0?.cancel() }
    }

    /// Starts the elapsed-time ticker once.
    private func startTicker() {
        ticker.withLock { task in
            guard task == nil else { return }
            let period: Duration = interactive ? .seconds(1) : reportEvery
            task = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    self?.tick()
                }
            }
        }
    }

    private func tick() {
        let now = ContinuousClock.now
        let steps = running.withLock { $0 }
        guard !steps.isEmpty else { return }
        if interactive {
            // Only the newest start line is still on screen to count up.
            guard steps.count == 1, let step = steps.values.first, pendingStart.withLock({ $0 }) else { return }
            Terminal.write("\r\u{1B}[K" + TerminalText.escaped(step.line) + " " + Self.elapsed(now - step.started))
        } else {
            for (seq, step) in steps.sorted(by: { $0.key < $1.key }) where now - step.started >= reportEvery {
                emit("  … \(seq) still running (\(Self.elapsed(now - step.started)))")
            }
        }
    }

    static func elapsed(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        return seconds < 60 ? "\(seconds) s" : "\(seconds / 60) min \(seconds % 60) s"
    }

    private func emit(_ line: String, replacingStart: Bool = false) {
        let line = TerminalText.escaped(line)
        let text: String
        if interactive {
            let replace = pendingStart.withLock { pending -> Bool in
                defer { pending = false }
                return pending && replacingStart
            }
            text = (replace ? "\r\u{1B}[K" : "") + line + "\n"
        } else {
            text = line + "\n"
        }
        Terminal.write(text)
    }

    private func emitStart(_ line: String) {
        if interactive {
            pendingStart.withLock { $0 = true }
            Terminal.write(line)
        } else {
            emit(line)
        }
    }

    static func shorten(_ text: String, _ limit: Int = 100) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    static func duration(_ milliseconds: Double) -> String {
        milliseconds < 1000 ? TimeText.fixed(milliseconds, 1) + " ms" : TimeText.fixed(milliseconds / 1000, 2) + " s"
    }

    func actionStarted(action: String, mode: ActionMode, attempt: Int) {
        emit("▸ \(action) [\(mode)]" + (attempt > 1 ? " (attempt \(attempt))" : ""))
    }

    func actionSkipped(action: String, mode: ActionMode) {
        emit("▸ \(action) [\(mode)] already succeeded in an earlier attempt; skipped")
    }

    func stepStarted(action: String, seq: Int, kind: StepKind, name: String, argsJSON: String) {
        let line = "  \(seq) \(name) \(Self.shorten(argsJSON)) …"
        running.withLock { $0[seq] = (line, ContinuousClock.now) }
        startTicker()
        emitStart(line)
    }

    func stepEnded(action: String, seq: Int, kind: StepKind, name: String, status: String, durationMilliseconds: Double, error: String?) {
        let mark = switch status {
        case "succeeded": "✓"
        case "replayed": "↺"
        default: "✗"
        }
        running.withLock { _ = $0.removeValue(forKey: seq) }
        var line = "  \(mark) \(seq) \(name) \(status)"
        if status != "replayed" { line += " (\(Self.duration(durationMilliseconds)))" } else { line += " (recorded result, not executed)" }
        if let error { line += ": " + Self.shorten(error, 300) }
        emit(line, replacingStart: status != "replayed")
    }

    func actionEnded(action: String, status: String, error: String?) {
        emit("\(status == "succeeded" ? "✓" : "✗") \(action) \(status)" + (error.map { ": " + Self.shorten($0, 500) } ?? ""))
    }

    func logged(action: String?, level: String, logger: String, message: String) {
        guard showLogs else { return }
        emit("    \(level.uppercased()) \(logger): \(message)")
    }

    func retryScheduled(attempt: Int, delaySeconds: Double, reason: String) {
        emit("↻ retrying (attempt \(attempt))" + (delaySeconds > 0 ? " in \(delaySeconds) s" : "") + " after \(Self.shorten(reason, 200))")
    }

    func waiting(for blocker: Int64, reason: String) {
        emit("… waiting for run \(blocker): \(reason)")
    }
}
