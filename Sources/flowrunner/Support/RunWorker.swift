import ArgumentParser
import Dispatch
import FlowRunner
import Foundation
import Synchronization
import Scheduler
import StateStore

/// Works a run in this process with live progress; Ctrl-C asks the run to
/// cancel (a second Ctrl-C exits at once). Ends the command with exit 0 when
/// the run succeeded, 1 otherwise.
enum RunWorker {
    static func work(_ run: RunRecord, scheduler: Scheduler, headline: String) async throws {
        let engine = scheduler.engine
        Terminal.line("run \(run.id): \(headline), attempt \(run.attempt)")
        signal(SIGINT, SIG_IGN)
        let interrupts = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let presses = InterruptCounter()
        interrupts.setEventHandler {
            if presses.increment() > 1 { exit(130) }
            Terminal.write("\ncancelling run \(run.id)… (Ctrl-C again to quit at once)\n", to: STDERR_FILENO)
            Task { _ = try? await engine.requestCancel(runID: run.id) }
        }
        interrupts.resume()
        defer { interrupts.cancel() }

        let started = ContinuousClock.now
        let final: RunRecord
        do {
            final = try await scheduler.work(runID: run.id, observer: ProgressPrinter())
        } catch {
            throw error.commandFailure
        }
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var line = "run \(final.id) \(final.status.rawValue) in \(ProgressPrinter.duration(milliseconds))"
        if let error = RunSummary.errorText(final.errorJSON) { line += ": " + error }
        Terminal.line(line)
        if final.status != .succeeded {
            if let hint = await RetryHint.line(for: final, store: engine.store) { Terminal.line(hint) }
            throw ExitCode(CommandFailure.failedCode)
        }
    }
}

final class InterruptCounter: Sendable {
    private let count = Atomic<Int>(0)

    func increment() -> Int {
        count.add(1, ordering: .relaxed).newValue
    }
}
