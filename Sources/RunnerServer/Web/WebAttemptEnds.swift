import FlowModel
import FlowRunner
import StateStore

/// How each attempt of a run ended, as the run page and the attempts page
/// show it: status, what ended it (the run's end, the flow's retry, a
/// recovery), end time and error with its traceback (a retry clears the
/// run's error, not its attempts' ends), or why an attempt has no end.
enum WebAttemptEnds {
    /// Each attempt of `report`'s run that is over, oldest first: the ended
    /// ones and those handed to the next attempt without an end; the current
    /// attempt too once the run has finished. Empty until one is over.
    static func views(_ report: RunReport) -> [[String: Any]] {
        let run = report.run
        let last = max(report.attempts.last?.attempt ?? 0, run.status.isFinished ? run.attempt : run.attempt - 1)
        guard last > 0 else { return [] }
        // The current attempt's traceback is the run's, shown above the list.
        return (1...last).map { view(of: $0, report, traceback: $0 != run.attempt) }
    }

    /// Attempt `attempt` of `report`'s run: `{"attempt", "ended", "status",
    /// "how", "time", "error", "note"}`, every key set (see ``WebViews/absent(_:_:)``).
    static func view(of attempt: Int, _ report: RunReport, traceback: Bool) -> [String: Any] {
        let run = report.run
        var view: [String: Any] = ["attempt": attempt]
        if let end = report.attempts.last(where: { $0.attempt == attempt }) {
            view["ended"] = true
            view["status"] = end.status.rawValue
            switch end.endedBy {
            case .end: break
            case .retry: view["how"] = "retried by the flow"
            case .recovery: view["how"] = "its worker was lost; recovered"
            }
            view["time"] = WebViews.time(end.endedAt)
            if let error = JSONValue(storedText: end.errorJSON) {
                var shown = WebViews.errorView(error, action: error["action"]?.stringValue)
                if !traceback { shown["traceback"] = false }
                view["error"] = shown
            }
        } else if attempt == run.attempt {
            view["note"] = run.status.isFinished ? "no end recorded" : "not over yet (\(run.status.rawValue))"
        } else {
            view["note"] = "no end recorded (handed to the next attempt before this FlowRunner kept such ends)"
        }
        WebViews.absent(&view, ["ended", "status", "how", "time", "error", "note"])
        return view
    }
}
