import CoreMetrics
import FlowRunner
import StateStore

/// The Scheduler's metrics, through swift-metrics (DESIGN.md, "Runner
/// service"): `serve` bootstraps a Prometheus backend; elsewhere (the CLI)
/// no backend is bootstrapped and ``SchedulerConfiguration/recordsMetrics``
/// is false, so nothing is read or counted.
///
/// - `flowrunner_runs_finished_total{hook, status}`: runs that reached a final status;
/// - `flowrunner_run_attempts_total{hook}`: attempts claimed by a worker;
/// - `flowrunner_step_duration_seconds{kind}`: how long each executed (not replayed) step took (a histogram);
/// - `flowrunner_workers_busy`: workers working an attempt now.
enum SchedulerMetrics {
    static func claimed(_ run: RunRecord) {
        Counter(label: "flowrunner_run_attempts_total", dimensions: [("hook", run.hook.rawValue)]).increment()
    }

    static func busyWorkers(_ count: Int) {
        Gauge(label: "flowrunner_workers_busy").record(count)
    }

    /// Counts a finished attempt of `run`: its final status, and the
    /// durations of its steps read back from `store`.
    static func attemptEnded(_ run: RunRecord, store: any StateStore) async {
        if run.status.isFinished {
            Counter(label: "flowrunner_runs_finished_total", dimensions: [("hook", run.hook.rawValue), ("status", run.status.rawValue)]).increment()
        }
        guard let actions = try? await store.actionRuns(runID: run.id) else { return }
        for action in actions {
            guard let steps = try? await store.steps(actionRunID: action.id) else { continue }
            for step in steps where step.attempt == run.attempt && !step.replayed && step.status != .running {
                guard let milliseconds = step.durationMilliseconds else { continue }
                Timer(label: "flowrunner_step_duration_seconds", dimensions: [("kind", step.kind.rawValue)])
                    .recordNanoseconds(Int64((milliseconds * 1_000_000).rounded()))
            }
        }
    }
}
