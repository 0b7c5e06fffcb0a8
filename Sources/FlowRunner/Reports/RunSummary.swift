import ActionHost
public import FlowModel
public import StateStore

/// A run in one line of a list, in the shape of `runs list --output json` and
/// `GET /v1/runs`: `{"id", "deployment", "hook", "status", "attempt",
/// "created_at", "started_at", "ended_at", "error"}` (times RFC 3339 UTC).
public enum RunSummary {
    /// The summary of `run`.
    public static func json(_ run: RunRecord) -> JSONValue {
        .object([
            "id": .int(Int(run.id)), "deployment": .string(run.deployment), "hook": .string(run.hook.rawValue),
            "status": .string(run.status.rawValue), "attempt": .int(run.attempt),
            "created_at": RunReport.time(run.createdAt), "started_at": RunReport.time(run.startedAt),
            "ended_at": RunReport.time(run.endedAt), "error": JSONValue(storedText: run.errorJSON) ?? .null,
        ])
    }

    /// `TYPE: MESSAGE (action A)` of a stored error, or nil.
    public static func errorText(_ errorJSON: String?) -> String? {
        guard let error = JSONValue(storedText: errorJSON) else { return nil }
        var summary = "\(error["type"]?.stringValue ?? "Error"): \(error["message"]?.stringValue ?? "")"
        if let action = error["action"]?.stringValue { summary += " (action \(action))" }
        return summary
    }
}
