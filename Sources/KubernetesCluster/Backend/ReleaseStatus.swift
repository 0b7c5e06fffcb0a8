import FlowModel
import Foundation
import Primitives

/// Reads a Flux `HelmRelease`'s status (`helm.toolkit.fluxcd.io/v2`): done
/// only on `Ready=True` observed at the current `metadata.generation`, a
/// `Stalled=True` or a failed install/upgrade at that generation fails at
/// once, anything else (an old `Ready`, `Progressing`, `Unknown`) is waited for.
enum ReleaseStatus {
    /// The annotation that asks Flux to reconcile again (`flux reconcile`); Flux reports the value it handled.
    static let reconcileAnnotation = "reconcile.fluxcd.io/requestedAt"

    /// Reasons of `Ready=False` that Flux does not retry by itself.
    static let failedReasons: Set<String> = ["InstallFailed", "UpgradeFailed", "RollbackFailed", "UninstallFailed", "ArtifactFailed",
                                             "InitFailed", "TestFailed"]

    static func verdict(_ release: JSONValue?, name: String) -> ListWatch.Verdict {
        guard let release else { return .waiting("HelmRelease \(name) to exist") }
        let namespace = release["metadata"]?["namespace"]?.stringValue ?? ""
        let generation = release["metadata"]?["generation"]?.intValue ?? 0
        let what = "HelmRelease \(namespace)/\(name) to be Ready at generation \(generation)"
        let conditions = release["status"]?["conditions"]?.arrayValue ?? []
        func condition(_ type: String) -> JSONValue? { conditions.first { $0["type"]?.stringValue == type } }
        func observed(_ condition: JSONValue) -> Int? {
            condition["observedGeneration"]?.intValue ?? release["status"]?["observedGeneration"]?.intValue
        }
        func text(_ condition: JSONValue) -> String {
            let reason = condition["reason"]?.stringValue ?? "", message = condition["message"]?.stringValue ?? ""
            return [reason, message].filter { !$0.isEmpty }.joined(separator: ": ")
        }
        // A reconcile asked for and not yet handled: the conditions are the old attempt's.
        if let requested = release["metadata"]?["annotations"]?[reconcileAnnotation]?.stringValue,
           release["status"]?["lastHandledReconcileAt"]?.stringValue != requested {
            return .waiting(what + " (Flux has not yet handled the reconcile requested at \(requested))")
        }
        let stalled = condition("Stalled").flatMap { stalled in
            stalled["status"]?.stringValue == "True" && (observed(stalled).map { $0 >= generation } ?? true) ? stalled : nil
        }
        guard let ready = condition("Ready") else {
            if let stalled { return .failed("HelmRelease \(namespace)/\(name) is stalled: \(text(stalled))") }
            return .waiting(what + " (no Ready condition yet)")
        }
        let current = observed(ready) == generation
        switch ready["status"]?.stringValue {
        case "True" where current:
            return .done
        case "False" where current && (failedReasons.contains(ready["reason"]?.stringValue ?? "") || stalled != nil):
            let stall = stalled.map { " (stalled: \(text($0)))" } ?? ""
            return .failed("HelmRelease \(namespace)/\(name) failed: \(text(ready))\(stall)")
        default:
            if let stalled { return .failed("HelmRelease \(namespace)/\(name) is stalled: \(text(stalled))") }
            let seen = observed(ready).map { "observed generation \($0)" } ?? "not yet observed"
            return .waiting(what + " (last: Ready=\(ready["status"]?.stringValue ?? "?") \(text(ready)), \(seen))")
        }
    }

    /// The Helm revisions Flux reports (`status.history`, newest first there),
    /// oldest first as `helm history` lists them: `{"revision", "chart_version",
    /// "status", "applied_at"}`; the newest also has the app version and the
    /// values the release holds. Without a history (before Flux's first
    /// install), the release as it is, at revision 0.
    static func history(_ release: JSONValue, appVersion: JSONValue) -> JSONValue {
        let values = release["spec"]?["values"] ?? .null
        let entries = (release["status"]?["history"]?.arrayValue ?? []).sorted { ($0["version"]?.intValue ?? 0) < ($1["version"]?.intValue ?? 0) }
        guard let newest = entries.last else {
            return [["revision": 0, "app_version": appVersion, "values": values, "status": "pending"]]
        }
        return .array(entries.map { entry in
            var row: [String: JSONValue] = [
                "revision": entry["version"] ?? .null, "chart_version": entry["chartVersion"] ?? .null,
                "status": entry["status"] ?? .null, "applied_at": Self.seconds(entry["lastDeployed"]?.stringValue),
            ]
            if entry == newest {
                row["app_version"] = appVersion
                row["values"] = values
            }
            return .object(row)
        })
    }

    /// An RFC 3339 time as seconds since 1970 (what the simulated cluster's releases hold), or null.
    static func seconds(_ text: String?) -> JSONValue {
        guard let text else { return .null }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
        return date.map { .double($0.timeIntervalSince1970) } ?? .null
    }

    /// The release's Ready condition for people, as `deployments show` has it.
    static func describe(_ release: JSONValue) -> JSONValue {
        let ready = (release["status"]?["conditions"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Ready" }
        return [
            "generation": release["metadata"]?["generation"] ?? .null,
            "ready": ready?["status"] ?? .null, "reason": ready?["reason"] ?? .null, "message": ready?["message"] ?? .null,
            "observed_generation": ready?["observedGeneration"] ?? release["status"]?["observedGeneration"] ?? .null,
        ]
    }
}

/// Reads a Deployment's or StatefulSet's status (`apps/v1`).
enum WorkloadStatus {
    static func workload(_ object: JSONValue, kind: String) -> Primitives.Workload {
        let remembered = object["metadata"]?["annotations"]?[KubernetesBackend.replicasAnnotation]?.stringValue.flatMap { Int($0) }
        let labels = (object["spec"]?["template"]?["metadata"]?["labels"] ?? object["metadata"]?["labels"])?.objectValue?
            .compactMapValues(\.stringValue) ?? [:]
        return Primitives.Workload(
            name: object["metadata"]?["name"]?.stringValue ?? "", kind: kind, replicas: object["spec"]?["replicas"]?.intValue ?? 1,
            readyReplicas: object["status"]?["readyReplicas"]?.intValue ?? 0, rememberedReplicas: remembered, labels: labels)
    }

    /// The first waiting container of `pod`: its name, and its reason and
    /// message (`ImagePullBackOff: Back-off pulling image "x"`) with the image.
    static func waitingContainer(of pod: JSONValue) -> (name: String, reason: String)? {
        for status in pod["status"]?["containerStatuses"]?.arrayValue ?? [] {
            if let waiting = status["state"]?["waiting"], let reason = waiting["reason"]?.stringValue {
                let image = status["image"]?.stringValue.map { " (image \($0))" } ?? ""
                return (status["name"]?.stringValue ?? "?", reason + (waiting["message"]?.stringValue.map { ": " + $0 } ?? "") + image)
            }
        }
        return nil
    }

    /// Whether a pod is one a workload runs: not finished, and not a Job's.
    static func isWorkloadPod(_ pod: JSONValue) -> Bool {
        let phase = pod["status"]?["phase"]?.stringValue
        guard phase != "Succeeded", phase != "Failed" else { return false }
        let owners = pod["metadata"]?["ownerReferences"]?.arrayValue ?? []
        return !owners.contains { $0["kind"]?.stringValue == "Job" } && pod["metadata"]?["labels"]?["job-name"] == nil
    }

    /// Why the workload is not settled, or nil when it is: its controller
    /// observed the current generation, and updated = ready = desired
    /// replicas (0 desired: no pod left).
    static func unsettled(_ object: JSONValue) -> String? {
        let generation = object["metadata"]?["generation"]?.intValue ?? 0
        let status = object["status"] ?? .object([:])
        let observed = status["observedGeneration"]?.intValue ?? 0
        let desired = object["spec"]?["replicas"]?.intValue ?? 1
        let ready = status["readyReplicas"]?.intValue ?? 0
        let updated = status["updatedReplicas"]?.intValue ?? (desired == 0 ? 0 : ready)
        let existing = status["replicas"]?.intValue ?? 0
        if observed < generation { return "its controller has observed generation \(observed) of \(generation)" }
        if desired == 0 { return existing == 0 ? nil : "\(existing) pod(s) left of 0 wanted" }
        if ready == desired && updated == desired && existing <= desired { return nil }
        return "\(ready) of \(desired) replicas ready, \(updated) updated"
    }
}
