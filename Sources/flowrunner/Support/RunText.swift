import ActionHost
import FlowModel
import FlowRunner
import Foundation
import StateStore

/// Human-readable renderings of runs.
enum RunText {
    /// `Type: message (action X)` from a stored error, or nil.
    static func duration(from start: Date?, to end: Date?) -> String {
        guard let start else { return "-" }
        let seconds = (end ?? Date()).timeIntervalSince(start)
        return seconds < 1 ? TimeText.fixed(seconds * 1000, 0) + " ms" : TimeText.fixed(seconds, 1) + " s"
    }

    /// The text of `runs show`.
    static func show(_ report: RunReport) -> String {
        let run = report.run
        var lines: [String] = []
        lines.append("Run \(run.id): \(run.hook) of \(run.deployment) — \(run.status.rawValue) (attempt \(run.attempt))")
        if let driver = report.driver {
            lines.append("Driver:   \(driver.driver) version \(driver.number) (spec \(driver.specVersion), digest \(driver.digest.prefix(12)))")
        }
        if let inputs = JSONValue(storedText: run.inputsJSON) {
            let current = inputs["current_version"]?.stringValue
            if run.hook.setsAppVersion {
                lines.append("Version:  " + (current.map { "\($0) → " } ?? "") + (inputs["target_version"]?.stringValue ?? "-"))
            } else {
                lines.append("Version:  " + (current ?? "- (not installed)"))
            }
            if let backup = inputs["backup_id"]?.intValue { lines.append("Backup:   \(backup) (flowrunner backups show \(backup))") }
            if inputs["purge_backups"]?.boolValue == true { lines.append("Backups:  purged with the deployment") }
        }
        lines.append("Created:  \(TimeFormat.table(run.createdAt))   started: \(TimeFormat.table(run.startedAt))   ended: \(TimeFormat.table(run.endedAt))   duration: \(duration(from: run.startedAt, to: run.endedAt))")
        if let error = RunSummary.errorText(run.errorJSON) { lines.append("Error:    \(error)") }
        // The ends of earlier attempts: a retry cleared the run's error, not theirs.
        for (index, end) in report.attempts.filter({ $0.attempt < run.attempt }).enumerated() {
            let error = RunSummary.errorText(end.errorJSON).map { ": " + $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
            let how = switch end.endedBy {
            case .end: end.status.rawValue
            case .retry: "failed, retried by the flow"
            case .recovery: "abandoned, recovered"
            }
            let traceback = JSONValue(storedText: end.errorJSON)?["traceback"]?.stringValue == nil ? "" : " (traceback: --output json)"
            lines.append((index == 0 ? "Earlier:  " : "          ") + "attempt \(end.attempt) \(how)\(error)\(traceback)")
        }
        if let waiting = report.waiting.run { lines.append("Waiting:  \(waiting)") }
        for (action, steps) in report.actions {
            lines.append("")
            let unisolated = action.isolation == "unisolated" ? " — ran unisolated (--unisolated-actions): its code could reach the engine's files and environment" : ""
            lines.append("Action \(action.name) [\(action.mode)] — \(action.status.rawValue), \(action.attempts) attempt\(action.attempts == 1 ? "" : "s")\(unisolated)")
            if !steps.isEmpty {
                let rows = steps.map { step -> [String] in
                    let how = step.replayed ? "replayed" : (step.status == .running ? "running" : "executed")
                    let outcome = step.status == .replayed ? "succeeded" : step.status.rawValue
                    let detail: String
                    if let waiting = report.waiting.step(step, of: run), run.status != .running || step.attempt != run.attempt {
                        detail = "waiting: \(waiting)"
                    } else if let error = JSONValue(storedText: step.errorJSON) {
                        detail = "\(error["type"]?.stringValue ?? "Error"): \(error["message"]?.stringValue ?? "")"
                    } else {
                        detail = step.resultJSON == nil ? "" : ProgressPrinter.shorten(RunReport.shownResult(step).jsonText, 60)
                    }
                    return [String(step.attempt), String(step.seq), step.name, ProgressPrinter.shorten(step.argsJSON, 50), how, outcome,
                            step.durationMilliseconds.map(ProgressPrinter.duration) ?? "-", ProgressPrinter.shorten(detail.replacingOccurrences(of: "\n", with: " "), 80)]
                }
                var table = ""
                Table.render(["ATTEMPT", "STEP", "NAME", "ARGS", "HOW", "STATUS", "TIME", "RESULT / ERROR"], rows, into: &table)
                lines.append(contentsOf: table.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.filter { $0.trimmingCharacters(in: .whitespaces) != "" })
            }
            for step in steps {
                if let divergence = JSONValue(storedText: step.divergenceJSON), let message = divergence["message"]?.stringValue {
                    lines.append("  ⚠ attempt \(step.attempt) step \(step.seq): \(message)")
                }
            }
            if let error = JSONValue(storedText: action.errorJSON) {
                lines.append("  Error: \(error["type"]?.stringValue ?? "Error"): \(error["message"]?.stringValue ?? "")")
                if let traceback = error["traceback"]?.stringValue, !traceback.isEmpty {
                    lines.append(contentsOf: traceback.split(separator: "\n").map { "    " + $0 })
                }
            }
        }
        if !report.webhookDeliveries.isEmpty {
            lines.append("")
            lines.append("Webhooks:")
            for delivery in report.webhookDeliveries {
                lines.append("  " + webhookLine(delivery))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One completion webhook delivery: which end, to where, how it went.
    static func webhookLine(_ delivery: WebhookDeliveryRecord) -> String {
        let attempts = "\(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s")"
        var how: String
        switch delivery.status {
        case .delivered: how = "delivered \(TimeFormat.table(delivery.deliveredAt)) (\(attempts))"
        case .pending: how = "pending, next attempt \(TimeFormat.table(delivery.nextAttemptAt)) (\(attempts))"
        case .failed: how = "given up (\(attempts))"
        }
        if delivery.status != .delivered, let error = delivery.lastError { how += ": \(error)" }
        return "attempt \(delivery.runAttempt) \(delivery.runStatus.rawValue) → \(RunEndEvent.shownURL(delivery.url)) \(how) [id \(delivery.deliveryID)]"
    }

    /// One log line as `runs logs` prints it.
    static func logLine(_ line: LogRecord) -> String {
        "\(TimeFormat.table(line.time)) \(line.level.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) [\(line.action ?? "engine")#\(line.attempt)] \(line.logger): \(line.message)"
    }
}
