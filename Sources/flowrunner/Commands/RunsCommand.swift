import ActionHost
public import ArgumentParser
import FlowModel
import FlowRunner
import Foundation
public import StateStore

/// `flowrunner runs ...`: inspect, retry, cancel and prune runs.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Inspect and manage runs.",
        subcommands: [RunsListCommand.self, RunsShowCommand.self, RunsLogsCommand.self, RunsRetryCommand.self,
                      RunsCancelCommand.self, RunsPruneCommand.self]
    )
}

extension RunStatus: ExpressibleByArgument {}

/// A run id argument.
struct RunArgument: ParsableArguments {
    @Argument(help: "The run's id.")
    var run: Int64

    func report(_ store: any StateStore) async throws -> RunReport {
        let report: RunReport?
        do {
            report = try await RunReport.load(runID: run, from: store)
        } catch {
            throw error.commandFailure
        }
        guard let report else { throw CommandFailure.badInput("no run \(run)") }
        return report
    }
}

/// `flowrunner runs list [--deployment NAME] [--status S] [--output json]`.
struct RunsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs, newest first.")

    @Option(name: .long, help: "Only runs of this deployment.")
    var deployment: String?

    @Option(name: .long, help: "Only runs in this status (queued, running, cancelling, succeeded, failed, cancelled).")
    var status: RunStatus?

    @Option(name: .long, help: "How many runs at most.")
    var limit = 50

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.openForReading()
        let runs: [RunRecord]
        var known = true
        do {
            if let deployment { known = try await store.deployment(named: deployment) != nil }
            runs = try await store.runs(matching: RunFilter(deployment: deployment, status: status, limit: max(1, limit)))
        } catch {
            throw error.commandFailure
        }
        // A deleted deployment's runs stay listed by its name.
        if let deployment, !known, runs.isEmpty {
            throw CommandFailure.badInput("unknown deployment \"\(deployment)\"")
        }
        switch output {
        case .json:
            print(JSONValue.array(runs.map(RunSummary.json)).prettyText)
        case .text:
            guard !runs.isEmpty else {
                print("No runs.")
                return
            }
            Table.print(["ID", "DEPLOYMENT", "HOOK", "STATUS", "ATTEMPT", "CREATED", "DURATION", "ERROR"], runs.map { run in
                [String(run.id), run.deployment, run.hook.rawValue, run.status.rawValue, String(run.attempt), TimeFormat.table(run.createdAt),
                 RunText.duration(from: run.startedAt, to: run.endedAt), ProgressPrinter.shorten(RunSummary.errorText(run.errorJSON) ?? "", 60)]
            })
        }
    }
}

/// `flowrunner runs show RUN [--output json]`.
struct RunsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a run: actions, steps (executed or replayed, in which attempt), errors.")

    @OptionGroup var runArgument: RunArgument

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.openForReading()
        let report = try await runArgument.report(store)
        switch output {
        case .json: print(report.json.prettyText)
        case .text:
            print(TerminalText.escaped(RunText.show(report)))
            if let hint = await RetryHint.line(for: report.run, store: store), report.run.status.isFinished {
                print("\n" + hint)
            }
        }
    }
}

/// `flowrunner runs logs RUN [--follow]`.
struct RunsLogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a run's log lines (stdout, stderr and loggers of its actions).")

    @OptionGroup var runArgument: RunArgument

    @Flag(name: .shortAndLong, help: "Keep printing new lines until the run ends.")
    var follow = false

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.openForReading()
        _ = try await runArgument.report(store)
        var printed = 0
        do {
            try await LogFollower(store: store, runID: runArgument.run).lines(follow: follow) { line in
                // One write per line, so a pipe (`| grep`) sees each line as it comes.
                Terminal.write(TerminalText.escaped(RunText.logLine(line)) + "\n", to: STDOUT_FILENO)
                printed += 1
            }
        } catch {
            throw error.commandFailure
        }
        if printed == 0 {
            Terminal.write("run \(runArgument.run) has no log lines (nothing its actions printed or logged)\n", to: STDERR_FILENO)
        }
    }
}

struct RunsRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Start the next attempt of a failed, cancelled or abandoned run.",
        discussion: "Actions that succeeded are skipped; the failed action runs again and replays its recorded steps until its calls differ. Exit status: 0 succeeded, 1 failed, 2 bad input."
    )

    @OptionGroup var runArgument: RunArgument

    @Option(name: .customLong("from-step"), help: "Replay only steps before step N.")
    var fromStep: Int?

    @Flag(name: .long, help: "Replay nothing: run every step again.")
    var restart = false

    @Option(name: .customLong("driver-version"), help: "Run with driver version N or `latest` (fixed action code).")
    var driverVersion: DriverVersionChoice?

    @Flag(name: .long, help: "Only queue the retry; `flowrunner serve` works it.")
    var detach = false

    @Flag(name: .long, help: "Print which recorded steps the retry would replay and which it would run; change nothing.")
    var plan = false

    @Option(name: .long, help: "With --plan, the output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var runOptions: RunOptions

    func validate() throws {
        if fromStep != nil && restart { throw ValidationError("--from-step and --restart cannot be combined") }
        if let fromStep, fromStep < 1 { throw ValidationError("--from-step must be 1 or more") }
        if plan && detach { throw ValidationError("--plan changes nothing, so there is nothing to --detach") }
        if output == .json && !plan { throw ValidationError("--output json goes with --plan (a retry prints its progress as text)") }
    }

    func run() async throws {
        let replay: Engine.ReplayMode = restart ? .restart : fromStep.map { .fromStep($0) } ?? .matching
        // A plan only reads: it opens the state read-only.
        let store: any StateStore = plan ? try await stateOptions.openForReading() : try await stateOptions.open()
        let engine = try runOptions.engine(store: store, cacheDirectory: stateOptions.directory)
        let run: RunRecord
        do {
            if plan {
                let retryPlan = try await engine.planRetry(runID: runArgument.run, replay: replay, driverVersion: driverVersion?.number)
                print(output == .json ? retryPlan.json.prettyText : RetryPlanText.show(retryPlan))
                return
            }
            run = try await engine.requestRetry(runID: runArgument.run, replay: replay, driverVersion: driverVersion?.number)
        } catch {
            throw error.commandFailure
        }
        if detach {
            print("run \(run.id) queued for attempt \(run.attempt)")
            return
        }
        try await RunWorker.work(run, scheduler: runOptions.scheduler(engine: engine), headline: "retry of \(run.hook) of \(run.deployment)")
    }
}

/// `flowrunner runs cancel RUN`.
struct RunsCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a run: a queued run at once, a running one by its worker (in any process)."
    )

    @OptionGroup var runArgument: RunArgument
    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.open()
        let run: RunRecord
        do {
            run = try await RunControl(store: store).cancel(runID: runArgument.run)
        } catch {
            throw error.commandFailure
        }
        switch run.status {
        case .cancelled: print("run \(run.id) cancelled")
        default: print("run \(run.id) \(run.status.rawValue): its worker stops the running action")
        }
    }
}

/// `flowrunner runs prune --older-than 30d`.
struct RunsPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished runs (succeeded, failed, cancelled) with their steps and logs.",
        discussion: "Runs still queued or running are never pruned."
    )

    @Option(name: .customLong("older-than"), help: ArgumentHelp("Delete runs that ended longer ago than this: 30d, 12h, 45m, 90s or 2w.", valueName: "age"))
    var olderThan: RetentionAge

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.open()
        do {
            let count = try await store.pruneRuns(endedBefore: Date().addingTimeInterval(-olderThan.seconds))
            print("pruned \(count) run\(count == 1 ? "" : "s") that ended more than \(olderThan.text) ago")
        } catch {
            throw error.commandFailure
        }
    }
}

/// An age such as `30d`: a whole number and a unit (s, m, h, d, w).
struct RetentionAge: ExpressibleByArgument {
    var seconds: TimeInterval
    var text: String

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = argument.last, let scale = units[unit], let number = Int(argument.dropLast()), number >= 0 else {
            return nil
        }
        seconds = TimeInterval(number) * scale
        text = argument
    }
}
