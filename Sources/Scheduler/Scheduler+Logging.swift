import FlowRunner
import Logging
import StateStore

extension Scheduler {
    /// One line of a run's transition in the configured log (see
    /// ``SchedulerConfiguration/logger``), with the run's id, deployment,
    /// hook and attempt as metadata.
    func log(_ message: Logger.Message, _ run: RunRecord, level: Logger.Level = .info, _ extra: Logger.Metadata = [:]) {
        guard let logger = configuration.logger else { return }
        var metadata: Logger.Metadata = [
            "run_id": "\(run.id)", "deployment": "\(run.deployment)", "hook": "\(run.hook.rawValue)",
            "attempt": "\(run.attempt)", "status": "\(run.status.rawValue)",
        ]
        metadata.merge(extra) { $1 }
        logger.log(level: level, message, metadata: metadata)
    }

    /// The line for how an attempt of `claimed` ended.
    func log(_ outcome: Result<AttemptOutcome, any Error>, _ claimed: RunRecord) {
        switch outcome {
        case .success(.finished(let run)):
            log("run finished", run, level: run.status == .succeeded ? .info : .notice)
        case .success(.retryScheduled(let run, let notBefore)):
            log("run retry scheduled", run, ["not_before": "\(notBefore.map(TimeText.rfc3339) ?? "now")"])
        case .success(.released(let run, let reason)):
            log("run released", run, level: .warning, ["reason": "\(reason)"])
        case .failure(let error):
            log("run attempt failed to be worked", claimed, level: .error, ["error": "\(error)"])
        }
    }
}
