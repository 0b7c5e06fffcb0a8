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
    /// The commands that request a run (`upgrade`, `backup`, `restore`,
    /// `delete`): opens the state, makes the request (a refusal ends the
    /// command with its exit status, having stored nothing), then queues
    /// the run with `detach` or works it here. `rendersValues`: the hook
    /// applies Helm values, whose renderer starts first when the run is worked here.
    static func submit<Created>(
        state: StateOptions, options: RunOptions, detach: Bool, rendersValues: Bool = false,
        request: (Engine) async throws(EngineError) -> Created, run: (Created) -> RunRecord, headline: (Created) -> String
    ) async throws {
        let store = try await state.open()
        let engine = try options.engine(store: store, cacheDirectory: state.directory, rendersOnce: rendersValues && !detach)
        await engine.configuration.valuesRenderer?.prewarm()
        let created: Created
        do {
            created = try await request(engine)
        } catch {
            await engine.configuration.valuesRenderer?.release()  // refused: nothing will render
            throw error.commandFailure
        }
        if detach {
            print("run \(run(created).id) queued: \(headline(created))")
            return
        }
        try await work(run(created), scheduler: options.scheduler(engine: engine), headline: headline(created))
    }

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
        var line: String
        if final.status.isFinished {
            line = "run \(final.id) \(final.status.rawValue) in \(ProgressPrinter.duration(milliseconds))"
            if let error = RunSummary.errorText(final.errorJSON) { line += ": " + error }
        } else {
            line = "run \(final.id) is still \(final.status.rawValue) after \(ProgressPrinter.duration(milliseconds)): this process stopped "
                + "working it (its lease was lost or could not be renewed: was it paused?) and left it to recovery"
        }
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
