import FlowRunner
import StateStore

/// What to do next about a run that did not succeed, as one line:
/// `see: ...   retry: flowrunner runs retry N [--driver-version latest]`.
enum RetryHint {
    /// The hint for `run`, or nil for a run that succeeded or is still going.
    /// A failed or cancelled run gets the retry command; when a newer
    /// version of its driver is loaded, the command runs that version.
    static func line(for run: RunRecord, store: any StateStore) async -> String? {
        switch run.status {
        case .failed, .cancelled:
            var retry = "flowrunner runs retry \(run.id)"
            if let used = try? await store.driverVersion(id: run.driverVersionID),
               let newest = try? await store.driverVersion(driver: used.driver), newest.number > used.number {
                retry += " --driver-version latest   (the run used \(used.driver) version \(used.number); version \(newest.number) is loaded)"
            }
            return "see: flowrunner runs show \(run.id)   retry: \(retry)"
        case .queued, .running, .cancelling, .succeeded:
            return run.status == .succeeded ? nil : "see: flowrunner runs show \(run.id)"
        }
    }
}
