public import DriverSpec
public import FlowModel

/// What a primitive acts on: the deployment's driver spec, its cluster, and
/// the deterministic job name of the current step.
public struct PrimitiveEnvironment: Sendable {
    /// The deployment's name.
    public var deployment: String
    /// The driver the deployment runs (components, supported versions).
    public var spec: DriverSpecification
    /// The deployment's cluster.
    public var cluster: any ClusterBackend
    /// The job name `execute_commands` uses at this step: derived from run,
    /// action and step, so a re-execution adopts the job it started before.
    public var jobName: String
    /// How long waits may take when the action gives no `timeout`.
    public var defaultTimeout: Duration
    /// Why a cancelled call was cancelled (see ``CallInterruption``).
    public var interruption: CallInterruption
    /// The Helm values install and upgrade apply; nil applies none (an
    /// engine without a renderer, or a test).
    public var values: (any HelmValuesSource)?
    /// Labels every job of this step carries besides the component's (`flowrunner.io/run`).
    public var jobLabels: [String: String] = [:]
    /// Takes each line of a job's output while it runs, where the backend can follow it.
    public var jobOutput: (@Sendable (String) -> Void)?

    /// Creates an environment.
    public init(deployment: String, spec: DriverSpecification, cluster: any ClusterBackend, jobName: String,
                defaultTimeout: Duration = .seconds(600), interruption: CallInterruption = CallInterruption(),
                values: (any HelmValuesSource)? = nil) {
        self.deployment = deployment
        self.spec = spec
        self.cluster = cluster
        self.jobName = jobName
        self.defaultTimeout = defaultTimeout
        self.interruption = interruption
        self.values = values
    }

    /// The values to apply at `appVersion` (nil: none).
    func values(at appVersion: String) async throws(PrimitiveError) -> JSONValue? {
        guard let values else { return nil }
        return try await values.values(appVersion: appVersion)
    }
}

/// The primitives actions call, by name: argument checking, singular
/// aliases, and idempotent semantics over a ``ClusterBackend``.
///
/// Every primitive leaves the cluster as one call would when called twice
/// with the same arguments: stopping a stopped component, starting a running
/// one, upgrading to the current version are no-ops; `execute_commands`
/// adopts the job of its step instead of running the commands again.
public enum PrimitiveCatalogue {
    /// The canonical primitive names.
    public static let names = [
        "stop_components", "start_components", "restart_components", "wait_for_components",
        "execute_commands", "upgrade_deployment_version", "get_component_images", "get_deployment_version",
    ]

    /// Singular spellings, and the plural primitive they stand for.
    static let aliases = ["stop_component": "stop_components", "start_component": "start_components", "restart_component": "restart_components"]

    /// The canonical name of `name` (itself, or the plural of an alias); nil when unknown.
    public static func canonicalName(_ name: String) -> String? {
        names.contains(name) ? name : aliases[name]
    }

    /// The canonical form of a call: aliases become their plural primitive
    /// (`stop_component(component=x)` → `stop_components(components=[x])`).
    /// Steps are recorded, and replayed, in this form.
    public static func normalize(name: String, arguments: JSONValue) throws(PrimitiveError) -> (name: String, arguments: JSONValue) {
        guard let canonical = canonicalName(name) else {
            throw PrimitiveError(.unknownPrimitive, "unknown primitive \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
        guard canonical != name, case .object(var members) = arguments else { return (canonical, arguments) }
        if let component = members.removeValue(forKey: "component") {
            if members["components"] != nil {
                throw PrimitiveError(.badArgument, "\(name)() takes 'component' or 'components', not both")
            }
            members["components"] = .array([component])
        }
        return (canonical, .object(members))
    }

    /// Runs a primitive (after ``normalize(name:arguments:)``). Every call
    /// that executes is first announced to the cluster
    /// (``ClusterBackend/primitiveWillRun(_:)``: a simulated cluster counts it
    /// and may inject the fixture's failure for it).
    public static func execute(name: String, arguments: JSONValue, in environment: PrimitiveEnvironment) async throws(PrimitiveError) -> JSONValue {
        let (name, arguments) = try normalize(name: name, arguments: arguments)
        do {
            try await environment.cluster.primitiveWillRun(name)
        } catch {
            throw PrimitiveError.refused(error.message)
        }
        let execution = Execution(environment: environment)
        switch name {
        case "stop_components":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["components", "timeout"])
            return try await execution.stop(try args.strings("components", required: "a list of component names"), timeout: try args.timeout())
        case "start_components":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["components", "timeout"])
            return try await execution.start(try args.strings("components", required: "a list of component names"), timeout: try args.timeout())
        case "restart_components":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["components", "timeout"])
            return try await execution.restart(try args.strings("components", required: "a list of component names"), timeout: try args.timeout())
        case "wait_for_components":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["components", "timeout"])
            return try await execution.wait(try args.strings("components", required: "a list of component names"), timeout: try args.timeout())
        case "execute_commands":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: [
                "commands", "image", "env_from_component", "labels_from_component", "timeout", "env", "component",
            ])
            return try await execution.executeCommands(args)
        case "upgrade_deployment_version":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["target_version", "timeout"])
            return try await execution.upgrade(to: try args.string("target_version", required: "the version to upgrade to"), timeout: try args.timeout())
        case "get_component_images":
            let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["component"])
            return try await execution.images(of: try args.string("component", required: "a component name"))
        case "get_deployment_version":
            _ = try PrimitiveArguments(primitive: name, arguments: arguments, known: [])
            return try await execution.version()
        default:
            throw PrimitiveError(.unknownPrimitive, "unknown primitive \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
    }
}

extension PrimitiveCatalogue {
    /// The engine's own primitives, not callable from actions.
    public static let builtInNames = ["install_components"] + backupBuiltInNames

    /// Runs a built-in primitive: `install_components(version, components)`
    /// installs the deployment at `version` and waits for the rollout; the
    /// result is `{"installed": [components], "version": version}`.
    public static func executeBuiltIn(name: String, arguments: JSONValue, in environment: PrimitiveEnvironment) async throws(PrimitiveError) -> JSONValue {
        if let backupWork = try await executeBackupBuiltIn(name: name, arguments: arguments, in: environment) { return backupWork }
        guard name == "install_components" else {
            throw PrimitiveError(.unknownPrimitive, "unknown built-in primitive \"\(name)\" (known: \(builtInNames.joined(separator: ", ")))")
        }
        let args = try PrimitiveArguments(primitive: name, arguments: arguments, known: ["version", "components"])
        let version = try args.string("version", required: "the version to install")
        let components = try args.strings("components", required: "a list of component names")
        let execution = Execution(environment: environment)
        let values = try await environment.values(at: version)
        try await execution.cluster { () async throws(ClusterError) in
            try await environment.cluster.install(spec: environment.spec, version: version, values: values)
            try await environment.cluster.waitForRollout(timeout: environment.defaultTimeout)
        }
        return ["installed": .array(components.map(JSONValue.string)), "version": .string(version)]
    }
}

/// One primitive call's work.
struct Execution {
    let environment: PrimitiveEnvironment
    var cluster: any ClusterBackend { environment.cluster }

    func cluster<T>(_ body: () async throws(ClusterError) -> T) async throws(PrimitiveError) -> T {
        do {
            return try await body()
        } catch {
            throw PrimitiveError(.cluster, error.message)
        }
    }

    /// Each name must be a declared component; returns their specs in the order given.
    func components(_ names: [String]) throws(PrimitiveError) -> [ComponentSpec] {
        var result: [ComponentSpec] = []
        for name in names {
            guard let component = environment.spec.component(named: name) else {
                let declared = environment.spec.components.map(\.name).sorted()
                let list = declared.isEmpty ? "the driver declares no components" : "declared: " + declared.joined(separator: ", ")
                throw PrimitiveError(.unknownComponent, type: "UnknownComponent", "unknown component \"\(name)\" (\(list))")
            }
            if !result.contains(component) { result.append(component) }
        }
        return result
    }

    func workloads(of component: ComponentSpec) async throws(PrimitiveError) -> [Workload] {
        let found = try await cluster { () async throws(ClusterError) in try await cluster.workloads(matching: component.labels) }
        guard !found.isEmpty else {
            let selector = component.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            throw PrimitiveError(.cluster, "component \"\(component.name)\" has no workloads in the cluster (label selector \(selector)); is the deployment installed?")
        }
        return found
    }

    func stop(_ names: [String], timeout: Duration?) async throws(PrimitiveError) -> JSONValue {
        var stopped: [JSONValue] = [], unchanged: [JSONValue] = [], touched: [String] = []
        for component in try components(names) {
            var changed = false
            for workload in try await workloads(of: component) where workload.replicas > 0 {
                try await cluster { () async throws(ClusterError) in
                    try await cluster.scale(workload: workload.name, replicas: 0, remember: workload.replicas, forget: false)
                }
                touched.append(workload.name)
                changed = true
            }
            if changed { stopped.append(.string(component.name)) } else { unchanged.append(.string(component.name)) }
        }
        let limit = timeout ?? environment.defaultTimeout
        let all = touched
        try await cluster { () async throws(ClusterError) in try await cluster.waitUntilSettled(workloads: all, timeout: limit) }
        return .object(["stopped": .array(stopped), "already_stopped": .array(unchanged)])
    }

    func start(_ names: [String], timeout: Duration?) async throws(PrimitiveError) -> JSONValue {
        var started: [JSONValue] = [], unchanged: [JSONValue] = [], touched: [String] = []
        for component in try components(names) {
            var changed = false
            for workload in try await workloads(of: component) {
                touched.append(workload.name)
                guard workload.replicas == 0 else { continue }
                let replicas = max(workload.rememberedReplicas ?? 1, 1)
                try await cluster { () async throws(ClusterError) in
                    try await cluster.scale(workload: workload.name, replicas: replicas, remember: nil, forget: true)
                }
                changed = true
            }
            if changed { started.append(.string(component.name)) } else { unchanged.append(.string(component.name)) }
        }
        let limit = timeout ?? environment.defaultTimeout
        let all = touched
        try await cluster { () async throws(ClusterError) in try await cluster.waitUntilSettled(workloads: all, timeout: limit) }
        return .object(["started": .array(started), "already_running": .array(unchanged)])
    }

    func restart(_ names: [String], timeout: Duration?) async throws(PrimitiveError) -> JSONValue {
        var touched: [String] = []
        for component in try components(names) {
            for workload in try await workloads(of: component) where workload.replicas > 0 {
                try await cluster { () async throws(ClusterError) in try await cluster.restart(workload: workload.name) }
                touched.append(workload.name)
            }
        }
        let limit = timeout ?? environment.defaultTimeout
        let all = touched
        try await cluster { () async throws(ClusterError) in try await cluster.waitUntilSettled(workloads: all, timeout: limit) }
        return .object(["restarted": .array(names.map(JSONValue.string))])
    }

    func wait(_ names: [String], timeout: Duration?) async throws(PrimitiveError) -> JSONValue {
        var all: [String] = []
        for component in try components(names) {
            all += try await workloads(of: component).map(\.name)
        }
        let limit = timeout ?? environment.defaultTimeout
        let workloads = all
        try await cluster { () async throws(ClusterError) in try await cluster.waitUntilSettled(workloads: workloads, timeout: limit) }
        return .object(["ready": .array(names.map(JSONValue.string))])
    }

    /// `execute_commands`; the engine's own jobs (a backup's dump) add
    /// `volumes` to mount and `extraLabels` that mark what the job is for.
    func executeCommands(_ args: PrimitiveArguments, volumes: [JobVolume] = [], extraLabels: [String: String] = [:]) async throws(PrimitiveError) -> JSONValue {
        let commands = try args.strings("commands", required: "a list of shell commands")
        let envComponent = try args.optionalString("env_from_component", "a component name")
        let labelsComponent = try args.optionalString("labels_from_component", "a component name")
        let imageComponent = try args.optionalString("component", "a component name")
        let named = [imageComponent, envComponent, labelsComponent].compactMap { $0 }
        _ = try components(named)
        var image = try args.optionalString("image", "an image reference such as repo:tag")
        if image == nil {
            guard let source = imageComponent ?? envComponent ?? labelsComponent ?? environment.spec.components.first?.name,
                  let component = environment.spec.component(named: source) else {
                throw PrimitiveError(.badArgument, "execute_commands(): no image given and no component to take one from (pass image=...)")
            }
            let images = try await cluster { () async throws(ClusterError) in try await cluster.images(matching: component.labels) }
            guard let first = images.first else {
                throw PrimitiveError(.cluster, "execute_commands(): component \"\(source)\" has no image to run the commands in (pass image=...)")
            }
            image = first
        }
        var jobEnvironment: [String: String] = [:]
        if let envComponent, let component = environment.spec.component(named: envComponent) {
            jobEnvironment = try await cluster { () async throws(ClusterError) in try await cluster.environment(matching: component.labels) }
            for variable in component.envVars {
                if case .string(let text) = variable.value { jobEnvironment[variable.name] = text }
            }
        }
        for (key, value) in try args.stringMap("env", "a mapping of environment variables") { jobEnvironment[key] = value }
        var labels: [String: String] = [:]
        if let labelsComponent, let component = environment.spec.component(named: labelsComponent) { labels = component.labels }
        labels.merge(extraLabels) { _, engine in engine }
        labels["flowrunner.io/job"] = environment.jobName
        labels.merge(environment.jobLabels) { _, engine in engine }

        let limit = try args.timeout() ?? environment.defaultTimeout
        var job = JobSpec(name: environment.jobName, image: image ?? "", commands: commands, environment: jobEnvironment, labels: labels)
        job.timeout = limit
        job.volumes = volumes
        if let envComponent, let component = environment.spec.component(named: envComponent) { job.environmentSource = component.labels }
        let state = try await cluster { () async throws(ClusterError) in try await cluster.startJob(job) }
        let result: JobResult
        do {
            result = try await cluster.waitForJob(named: job.name, timeout: limit, output: environment.jobOutput)
        } catch {
            if Task.isCancelled {
                if environment.interruption.isCutOff {
                    throw PrimitiveError(.interrupted, "execute_commands was cut off (the action's host died); job \(job.name) goes on and is adopted by the next attempt")
                }
                throw PrimitiveError(.cancelled, "execute_commands was cancelled; \(await Self.delete(job: job.name, from: cluster))")
            }
            if error.code == .timeout {
                // Given up on: the job must not run on beside a retry's.
                throw PrimitiveError(.cluster, "\(error.message); \(await Self.delete(job: job.name, from: cluster))")
            }
            throw PrimitiveError(.cluster, error.message)
        }
        let results: [JSONValue] = result.commands.map { command in
            .object(["command": .string(command.command), "exit_code": .int(command.exitCode), "output": .string(command.output)])
        }
        let output = result.commands.map(\.output).filter { !$0.isEmpty }.joined(separator: "\n")
        if let failure = result.failure {
            let tail = String(failure.output.suffix(4096))
            var message = "command \"\(failure.command)\" exited with status \(failure.exitCode) (job \(job.name))"
            if !tail.isEmpty { message += "; output:\n" + tail }
            throw PrimitiveError(.commandFailed, type: "CommandFailed", message, details: .object([
                "exit_code": .int(failure.exitCode), "command": .string(failure.command), "output": .string(tail),
                "job": .string(job.name), "results": .array(results),
            ]))
        }
        return .object([
            "job": .string(job.name), "adopted": .bool(state == .adopted), "image": .string(job.image),
            "exit_codes": .array(result.commands.map { .int($0.exitCode) }), "output": .string(output), "results": .array(results),
        ])
    }

    /// Deletes a job given up on (cancelled, timed out), outside the
    /// caller's task so a cancellation does not cancel the deletion too.
    /// Returns the sentence that says what happened to it.
    static func delete(job name: String, from cluster: any ClusterBackend) async -> String {
        let failure = await Task { () async -> ClusterError? in
            do throws(ClusterError) {
                try await cluster.deleteJob(named: name)
                return nil
            } catch {
                return error
            }
        }.value
        return failure.map { "job \(name) could not be deleted: \($0.message)" } ?? "job \(name) was deleted"
    }

    func upgrade(to target: String, timeout: Duration?) async throws(PrimitiveError) -> JSONValue {
        let version: Version
        do {
            version = try Version(target)
        } catch {
            throw PrimitiveError(.versionNotSupported, type: "VersionNotSupported", "\(error.description)")
        }
        if let supported = environment.spec.supportedVersions, !supported.contains(version, includePrereleases: true) {
            throw PrimitiveError(.versionNotSupported, type: "VersionNotSupported",
                "version \(target) is outside supported_versions \"\(supported)\" of driver \(environment.spec.name)")
        }
        // Rendered before anything changes: values that do not render leave the release as it is.
        let values = try await environment.values(at: target)
        let current = try await cluster { () async throws(ClusterError) in try await cluster.appVersion() }
        if let current, let currentVersion = try? Version(current), currentVersion == version {
            // The same version with other values (an operator's `deployments set`) is still an upgrade, as in Helm and Flux.
            let applied = try await cluster { () async throws(ClusterError) in try await cluster.appliedValues() }
            if values == nil || values.map(cluster.valuesAsStored) == applied {
                // Nothing to change, but the release must be healthy: a retry after a stuck rollout waits for it again.
                let limit = timeout ?? environment.defaultTimeout
                try await cluster { () async throws(ClusterError) in try await cluster.waitForRollout(timeout: limit) }
                return .object(["previous": .string(current), "version": .string(current), "changed": .bool(false)])
            }
        }
        try await cluster { () async throws(ClusterError) in try await cluster.setAppVersion(target, values: values) }
        let limit = timeout ?? environment.defaultTimeout
        try await cluster { () async throws(ClusterError) in try await cluster.waitForRollout(timeout: limit) }
        return .object(["previous": current.map(JSONValue.string) ?? .null, "version": .string(target), "changed": .bool(true)])
    }

    func images(of name: String) async throws(PrimitiveError) -> JSONValue {
        let component = try components([name])[0]
        _ = try await workloads(of: component)
        let images = try await cluster { () async throws(ClusterError) in try await cluster.images(matching: component.labels) }
        return .array(images.map(JSONValue.string))
    }

    func version() async throws(PrimitiveError) -> JSONValue {
        let current = try await cluster { () async throws(ClusterError) in try await cluster.appVersion() }
        return current.map(JSONValue.string) ?? .null
    }
}
