import FlowModel
import Foundation
import Primitives

/// The `batch/v1` Job that runs `execute_commands` (DESIGN.md "Clusters"):
/// one pod, `backoffLimit: 0`, the commands in order, each in a `/bin/sh -c`
/// of its own (its `exit` or `set +e` cannot change the others), stopping
/// at the first that fails with its status; each is announced by a marker
/// line so its output can be told apart in the pod's log.
enum JobObject {
    /// The container's name.
    static let container = "commands"
    /// The annotation keeping the commands (JSON), so an adopted Job's result names them.
    static let commandsAnnotation = "flowrunner.io/commands"

    static func marker(_ index: Int) -> String { "::flowrunner:command:\(index)::" }

    /// `text` as one single-quoted shell word (`'` written as `'\''`).
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Whether a log line is one of the command markers.
    static func isMarker(_ line: String) -> Bool {
        line.hasPrefix("::flowrunner:command:") && line.hasSuffix("::")
    }

    /// The Job of `job` in `namespace`; `containerTemplate`, the component's
    /// container, gives its `env` entries as they are (a `valueFrom` kept)
    /// and its `envFrom`, under the job's own values. `ownerLabels` (the
    /// deployment's) go on the Job only, not on its pod, so an uninstall finds it.
    /// Each of `job.volumes` is mounted: a `persistentVolumeClaim` volume `volume-N`.
    static func make(_ job: JobSpec, namespace: String, containerTemplate: JSONValue? = nil, ownerLabels: [String: String] = [:]) -> JSONValue {
        var script = ""
        for (index, command) in job.commands.enumerated() {
            script += "echo '\(marker(index + 1))'\n/bin/sh -c \(shellQuoted(command)) || exit $?\n"
        }
        let labels = JSONValue.object(job.labels.mapValues(JSONValue.string))
        let jobLabels = JSONValue.object(job.labels.merging(ownerLabels) { own, _ in own }.mapValues(JSONValue.string))
        var entries = (containerTemplate?["env"]?.arrayValue ?? []).filter { job.environment[$0["name"]?.stringValue ?? ""] == nil }
        entries += job.environment.sorted { $0.key < $1.key }.map { ["name": .string($0.key), "value": .string($0.value)] }
        let environment = JSONValue.array(entries)
        return [
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["name": .string(job.name), "namespace": .string(namespace), "labels": jobLabels,
                         "annotations": [commandsAnnotation: .string(JSONValue.array(job.commands.map(JSONValue.string)).jsonText)]],
            "spec": .object(spec(job, labels: labels, script: script, environment: environment, environmentFrom: containerTemplate?["envFrom"])),
        ]
    }

    /// The Job's spec: one pod that is never restarted, running `script`.
    static func spec(_ job: JobSpec, labels: JSONValue, script: String, environment: JSONValue, environmentFrom: JSONValue?) -> [String: JSONValue] {
        var container: [String: JSONValue] = [
            "name": .string(container), "image": .string(job.image), "command": ["/bin/sh", "-c", .string(script)], "env": environment,
        ]
        if let environmentFrom, environmentFrom != .null { container["envFrom"] = environmentFrom }
        var pod: [String: JSONValue] = ["restartPolicy": "Never"]
        if !job.volumes.isEmpty {
            let names = job.volumes.indices.map { "volume-\($0 + 1)" }
            container["volumeMounts"] = .array(zip(names, job.volumes).map { ["name": .string($0), "mountPath": .string($1.mountPath)] })
            pod["volumes"] = .array(zip(names, job.volumes).map { ["name": .string($0), "persistentVolumeClaim": ["claimName": .string($1.claim)]] })
        }
        pod["containers"] = [.object(container)]
        var spec: [String: JSONValue] = [
            "backoffLimit": 0,
            "template": ["metadata": ["labels": labels], "spec": .object(pod)],
        ]
        if let timeout = job.timeout, timeout > .zero {
            // The step's timeout, rounded up to whole seconds: Kubernetes stops the pod itself then.
            spec["activeDeadlineSeconds"] = .int(Int(timeout.components.seconds) + (timeout.components.attoseconds > 0 ? 1 : 0))
        }
        return spec
    }

    /// Whether the Job has finished (its `Complete` or `Failed` condition, or a pod that succeeded or failed).
    static func finished(_ job: JSONValue) -> Bool {
        let conditions = job["status"]?["conditions"]?.arrayValue ?? []
        if conditions.contains(where: { ["Complete", "Failed"].contains($0["type"]?.stringValue ?? "") && $0["status"]?.stringValue == "True" }) {
            return true
        }
        return (job["status"]?["succeeded"]?.intValue ?? 0) > 0 || (job["status"]?["failed"]?.intValue ?? 0) > 0
    }

    /// The commands a Job runs, from its annotation.
    static func commands(of job: JSONValue?) -> [String] {
        guard let text = job?["metadata"]?["annotations"]?[commandsAnnotation]?.stringValue,
              let list = try? JSONValue(jsonText: text).arrayValue else { return [] }
        return list.compactMap(\.stringValue)
    }

    /// What the commands did, from the pod's log and its container's exit code.
    static func result(commands: [String], log: String, pod: JSONValue?) -> JobResult {
        var outputs: [Int: [Substring]] = [:]
        var current = 0
        for line in log.split(separator: "\n", omittingEmptySubsequences: false) {
            if let index = (1...max(commands.count, 1)).first(where: { line == marker($0) }) {
                current = index
                outputs[index] = []
            } else if current > 0 {
                outputs[current, default: []].append(line)
            }
        }
        let terminated = (pod?["status"]?["containerStatuses"]?.arrayValue ?? []).first?["state"]?["terminated"]
        let exitCode = terminated?["exitCode"]?.intValue ?? (pod == nil ? 1 : 0)
        var results: [JobResult.CommandResult] = []
        let last = current == 0 ? 1 : current
        for index in 1...max(last, 1) where index <= commands.count {
            let output = (outputs[index] ?? []).joined(separator: "\n").trimmingCharacters(in: .newlines)
            let failed = index == last && exitCode != 0
            results.append(JobResult.CommandResult(command: commands[index - 1], exitCode: failed ? exitCode : 0,
                                                   output: index == 1 && current == 0 ? log.trimmingCharacters(in: .newlines) : output))
            if failed { break }
        }
        return JobResult(commands: results)
    }
}
