import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import StateStore

/// What each page shows, as the plain dictionaries and lists the Mustache
/// templates read, built from the same reports as the API's JSON (so the
/// page and `GET /v1/...` never disagree; secret values are already masked there).
enum WebViews {
    /// How many steps an action shows before "show every step": failed and diverged ones first.
    static let stepPage = 300
    /// How many log lines a run page shows (the newest; search finds older ones).
    static let logPage = 500

    static func time(_ date: Date?) -> String { date.map(TimeText.local) ?? "-" }

    /// Text as a page shows it: control characters other than newline and tab
    /// (a terminal's escape sequences) become U+FFFD, so the HTML stays valid.
    static func shown(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7F...0x9F).contains(scalar.value) ? "\u{FFFD}" : scalar
        }))
    }

    static func runRow(_ run: RunRecord, waiting: String?) -> [String: Any] {
        ["id": run.id, "deployment": run.deployment, "hook": run.hook.rawValue, "status": run.status.rawValue, "attempt": run.attempt,
         "created": time(run.createdAt), "waiting": waiting ?? ""]
    }

    /// Mustache looks a missing key up in the enclosing sections (a step
    /// without an error would show its action's): every optional key of a
    /// view is set, false when absent.
    static func absent(_ view: inout [String: Any], _ keys: [String]) {
        for key in keys where view[key] == nil { view[key] = false }
    }

    /// The run page: summary, error and traceback, each attempt's end, actions with their steps
    /// (attempt lanes; failed and diverged first when there are many), logs.
    static func run(_ report: RunReport, logs: [LogRecord], query: String, allSteps: Bool) -> [String: Any] {
        let run = report.run
        let inputs = JSONValue(storedText: run.inputsJSON)
        var view: [String: Any] = [
            "id": run.id, "hook": run.hook.rawValue, "deployment": run.deployment, "status": run.status.rawValue, "attempt": run.attempt,
            "created": time(run.createdAt), "started": time(run.startedAt), "ended": time(run.endedAt),
            "cancellable": !run.status.isFinished, "retryable": run.status == .failed || run.status == .cancelled, "compare": run.attempt > 1,
            // A search is not followed: the lines a stream brings would not be matches.
            "live": run.status.isFinished || !query.isEmpty ? "false" : "true", "query": query, "hasQuery": !query.isEmpty,
            "lastLogID": logs.last.map { String($0.id) } ?? "0",
        ]
        if let current = inputs?["current_version"]?.stringValue, let target = inputs?["target_version"]?.stringValue {
            view["versions"] = "\(current) → \(target)"
        } else if let version = inputs?["target_version"]?.stringValue ?? inputs?["current_version"]?.stringValue {
            view["versions"] = "version \(version)"
        }
        if let driver = report.driver { view["driver"] = ["name": driver.driver, "version": driver.number] }
        if let waiting = report.waiting.run { view["waiting"] = waiting }
        if let error = JSONValue(storedText: run.errorJSON) {
            var shown = errorView(error, action: error["action"]?.stringValue)
            // The run's error names the action; the traceback is the action's.
            if shown["traceback"] is Bool, let name = error["action"]?.stringValue,
               let failed = report.actions.first(where: { $0.action.name == name }),
               let traceback = JSONValue(storedText: failed.action.errorJSON)?["traceback"]?.stringValue {
                shown["traceback"] = traceback
            }
            view["error"] = shown
            view["verb"] = run.status == .cancelled ? "was cancelled" : "failed"
        }
        // Several attempts: how each ended, the errors a retry cleared from the run kept.
        view["attemptEnds"] = run.attempt > 1 ? WebAttemptEnds.views(report) : []
        view["hasAttemptEnds"] = run.attempt > 1
        view["actions"] = report.actions.map { action, steps in actionView(action, steps: steps, run: run, waiting: report.waiting, allSteps: allSteps) }
        view["logs"] = logs.map { line -> [String: Any] in
            ["id": line.id, "attempt": line.attempt, "time": time(line.time), "level": line.level.rawValue, "action": line.action ?? false,
             "message": shown(report.masking.text(line.message))]
        }
        absent(&view, ["versions", "driver", "waiting", "error", "verb"])
        return view
    }

    static func errorView(_ error: JSONValue, action: String?) -> [String: Any] {
        var view: [String: Any] = ["type": error["type"]?.stringValue ?? "Error", "message": shown(error["message"]?.stringValue ?? error.jsonText)]
        if let action { view["action"] = action }
        if let traceback = error["traceback"]?.stringValue { view["traceback"] = shown(traceback) }
        absent(&view, ["action", "traceback"])
        return view
    }

    static func actionView(_ action: ActionRunRecord, steps: [StepRecord], run: RunRecord, waiting: WaitingReason, allSteps: Bool) -> [String: Any] {
        var view: [String: Any] = ["name": action.name, "mode": action.mode.rawValue, "status": action.status.rawValue, "attempts": action.attempts]
        if let error = JSONValue(storedText: action.errorJSON) { view["error"] = errorView(error, action: nil) }
        // Failed and diverged steps first when they would not all fit, then by attempt and sequence.
        var shown = steps
        if !allSteps, steps.count > stepPage {
            let marked = steps.filter { $0.status == .failed || $0.divergenceJSON != nil }
            let rest = steps.filter { !($0.status == .failed || $0.divergenceJSON != nil) }
            shown = Array((marked + rest).prefix(stepPage))
            view["hidden"] = steps.count - shown.count
        }
        view["steps"] = shown.map { step -> [String: Any] in
            var row: [String: Any] = [
                "attempt": step.attempt, "seq": step.seq, "kind": step.kind.rawValue, "name": step.name, "status": step.status.rawValue,
                "how": step.replayed ? "replayed" : "executed", "laneClass": step.attempt % 2 == 0 ? "even" : "odd",
                "duration": step.durationMilliseconds.map { TimeText.fixed($0, 1) + " ms" } ?? (waiting.step(step, of: run) ?? "-"),
                "args": Self.shown(String(step.argsJSON.prefix(240)) + (step.argsJSON.count > 240 ? "…" : "")),
                "marked": step.status == .failed || step.divergenceJSON != nil, "diverged": step.divergenceJSON != nil,
            ]
            if let error = JSONValue(storedText: step.errorJSON) { row["error"] = "\(error["type"]?.stringValue ?? "Error"): \(error["message"]?.stringValue ?? "")" }
            if let divergence = step.divergenceJSON { row["divergence"] = "replay stopped here: " + Self.shown(divergence) }
            absent(&row, ["error", "divergence"])
            return row
        }
        absent(&view, ["error", "hidden"])
        return view
    }

    /// The retry page's plan.
    static func plan(_ plan: RetryPlan) -> [String: Any] {
        let json = plan.json
        return [
            "attempt": json["attempt"]?.intValue ?? 0,
            "actions": (json["actions"]?.arrayValue ?? []).map { action -> [String: Any] in
                ["name": action["name"]?.stringValue ?? "", "steps": (action["steps"]?.arrayValue ?? []).map { step -> [String: Any] in
                    ["seq": step["seq"]?.intValue ?? 0, "kind": step["kind"]?.stringValue ?? "", "name": step["name"]?.stringValue ?? "",
                     "recorded": step["recorded"]?.stringValue ?? "", "plan": step["plan"]?.stringValue ?? ""]
                }]
            },
        ]
    }

    /// The deployment page.
    /// The upgrade picker's suggestions: the versions a deployment was sent
    /// to and the driver's default, each only if the driver supports it
    /// (`supported_versions`, PEP 440; nil supports every version), sorted.
    static func suggestedVersions(known: Set<String>, defaultVersion: Version?, supported: VersionSpecifierSet?) -> [String] {
        known.union(defaultVersion.map { [$0.description] } ?? []).filter { text in
            guard let supported else { return true }
            return (try? Version(text)).map { supported.contains($0) } ?? false
        }.sorted()
    }

    static func deployment(_ report: DeploymentReport, supported: String, versions: [String]) -> [String: Any] {
        let cluster = report.cluster
        let releases = cluster["releases"]?.arrayValue ?? []
        let values = releases.last?["values"].map { HelmValues.lines($0) } ?? []
        var view: [String: Any] = [
            "name": report.deployment.name, "driver": report.deployment.driver, "driverVersion": report.driver?.number ?? 0,
            "appVersion": report.deployment.appVersion, "cluster": report.deployment.cluster, "supported": supported, "versions": versions,
            "values": values, "hasValues": !values.isEmpty, "revision": releases.last?["revision"]?.intValue ?? 0,
            "workloads": (cluster["workloads"]?.arrayValue ?? []).map { workload -> [String: Any] in
                ["component": workload["component"]?.stringValue ?? workload["name"]?.stringValue ?? "?",
                 "replicas": workload["replicas"]?.intValue ?? 0, "ready": workload["ready_replicas"]?.intValue ?? 0,
                 "images": (workload["images"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")]
            },
            "runs": report.runs.map { runRow($0, waiting: nil) },
            "backups": report.backups.map { backup -> [String: Any] in
                ["id": backup.id, "status": backup.status.rawValue, "appVersion": backup.appVersion, "created": time(backup.createdAt)]
            },
        ]
        if let error = report.clusterError { view["clusterError"] = error }
        absent(&view, ["clusterError"])
        return view
    }
}
