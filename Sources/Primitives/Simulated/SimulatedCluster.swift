public import DriverSpec
public import FlowModel
import Foundation

/// The embedded cluster: workloads, pods, jobs and the app version of one
/// deployment, simulated the way Kubernetes would behave, with state in a
/// ``SimulatedClusterStorage``. Waiting is instant unless a fixture asks for
/// command durations; a component marked `never_ready` makes waits time out.
public actor SimulatedCluster: ClusterBackend {
    let storage: any SimulatedClusterStorage
    let fixture: ClusterFixture
    private var cached: SimulatedClusterState?
    private var unsaved = false
    /// Whether an update is between reading the state and saving it. The
    /// actor is re-entrant at every `await`, so two interleaved updates (two
    /// `asyncio.gather` branches creating and finishing jobs) would each save
    /// a state without the other's change; later updates wait their turn.
    private var updating = false
    private var waitingUpdates: [CheckedContinuation<Void, Never>] = []

    /// A cluster over `storage`, behaving as `fixture` says.
    public init(storage: any SimulatedClusterStorage, fixture: ClusterFixture = ClusterFixture()) {
        self.storage = storage
        self.fixture = fixture
    }

    // MARK: State

    /// The current state (empty before install).
    public func state() async throws(ClusterError) -> SimulatedClusterState {
        if let cached { return cached }
        do {
            let loaded = try await storage.load() ?? SimulatedClusterState()
            cached = loaded
            return loaded
        } catch {
            throw ClusterError(.failed, "cannot read the simulated cluster's state: \(error)")
        }
    }

    func update<T>(_ change: (inout SimulatedClusterState) throws(ClusterError) -> T) async throws(ClusterError) -> T {
        await beginUpdate()
        defer { endUpdate() }
        var current = try await state()
        let result = try change(&current)
        if current != cached || unsaved {
            try await save(current)
        }
        return result
    }

    /// Waits until no other update is between its read and its save.
    private func beginUpdate() async {
        if updating {
            await withCheckedContinuation { waitingUpdates.append($0) }
        } else {
            updating = true
        }
    }

    /// Hands the turn to the oldest waiting update, or ends it.
    private func endUpdate() {
        if waitingUpdates.isEmpty { updating = false } else { waitingUpdates.removeFirst().resume() }
    }

    private func save(_ state: SimulatedClusterState) async throws(ClusterError) {
        let before = Dictionary((cached?.jobs ?? []).map { ($0.name, $0) }) { first, _ in first }
        let changed = state.jobs.filter { before[$0.name] != $0 }
        let kept = Set(state.jobs.map(\.name))
        let removed = before.keys.filter { !kept.contains($0) }
        do {
            try await storage.save(state, changedJobs: changed, removedJobs: removed)
        } catch {
            throw ClusterError(.failed, "cannot save the simulated cluster's state: \(error)")
        }
        cached = state
        unsaved = false
    }

    /// Saves changes kept in memory only (the primitive call counts).
    public func commit() async throws(ClusterError) {
        await beginUpdate()
        defer { endUpdate() }
        if unsaved, let cached { try await save(cached) }
    }

    /// The state as JSON text (see ``SimulatedClusterState``).
    public func snapshot() async throws(ClusterError) -> String {
        try await state().jsonText(pretty: false)
    }

    /// Installs the deployment's components at `version` (the setup hook's
    /// built-in core): one workload per component, replicas and images from
    /// the fixture, else 1 replica of `<identifier label value>:<version>`.
    /// Components already present keep their state; the version is set and
    /// the release recorded with `values`.
    public func install(spec: DriverSpecification, version: String, values: JSONValue?) async throws(ClusterError) {
        try await update { state throws(ClusterError) in
            for component in spec.components where !state.workloads.contains(where: { $0.component == component.name }) {
                let configured = fixture.components[component.name]
                let replicas = configured?.replicas ?? 1
                let image = Self.imageName(for: component)
                let environment = component.envVars.reduce(into: configured?.environment ?? [:]) { result, variable in
                    if case .string(let text) = variable.value { result[variable.name] = result[variable.name] ?? text }
                }
                state.workloads.append(SimulatedClusterState.Workload(
                    name: "\(spec.name)-\(component.name)", kind: "Deployment", component: component.name,
                    labels: component.labels, replicas: replicas, readyReplicas: configured?.neverReady == true ? 0 : replicas,
                    rememberedReplicas: nil, defaultReplicas: max(replicas, 1),
                    images: configured?.images ?? ["\(image):\(version)"], environment: environment, restarts: 0,
                    neverReady: configured?.neverReady ?? false, dataRevision: 1
                ))
            }
            Self.retag(&state, to: version)
            state.appVersion = version
            state.recordRelease(version: version, values: values, at: Date().timeIntervalSince1970)
        }
    }

    /// The image repository of a component: the value of
    /// `app.kubernetes.io/name` if it has that label, else of its first label.
    static func imageName(for component: ComponentSpec) -> String {
        component.labels["app.kubernetes.io/name"] ?? component.labels.sorted { $0.key < $1.key }.first?.value ?? component.name
    }

    /// Images tagged with the old app version follow the new one.
    static func retag(_ state: inout SimulatedClusterState, to version: String) {
        guard let old = state.appVersion, old != version else { return }
        for index in state.workloads.indices {
            state.workloads[index].images = state.workloads[index].images.map { image in
                guard let colon = image.lastIndex(of: ":"), image[image.index(after: colon)...] == old else { return image }
                return image[..<colon] + ":" + version
            }
        }
    }

    // MARK: Fault injection

    /// Counts the call in memory (saved with the next change or ``commit()``)
    /// and throws the failure the fixture injects for this call
    /// (``ClusterError/Code/injected``); an injected failure is saved at once,
    /// so a retry in another process sees that it happened.
    public func primitiveWillRun(_ primitive: String) async throws(ClusterError) {
        await beginUpdate()
        defer { endUpdate() }
        var current = try await state()
        let count = (current.primitiveCalls[primitive] ?? 0) + 1
        current.primitiveCalls[primitive] = count
        cached = current
        unsaved = true
        guard let failure = fixture.failures.first(where: { $0.primitive == primitive && $0.call == count }) else { return }
        try await save(current)
        throw ClusterError(.injected, failure.message)
    }

    // MARK: ClusterBackend

    public func workloads(matching labels: [String: String]) async throws(ClusterError) -> [Workload] {
        try await state().workloads.filter { Self.matches($0.labels, labels) }.map { workload in
            Workload(name: workload.name, kind: workload.kind, replicas: workload.replicas, readyReplicas: workload.readyReplicas,
                     rememberedReplicas: workload.rememberedReplicas, labels: workload.labels)
        }
    }

    static func matches(_ podLabels: [String: String], _ selector: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { podLabels[$0.key] == $0.value }
    }

    public func scale(workload name: String, replicas: Int, remember: Int?, forget: Bool) async throws(ClusterError) {
        try await update { state throws(ClusterError) in
            guard let index = state.workloads.firstIndex(where: { $0.name == name }) else {
                throw ClusterError(.notFound, "no workload named \(name)")
            }
            state.workloads[index].replicas = replicas
            state.workloads[index].readyReplicas = state.workloads[index].neverReady && replicas > 0 ? 0 : replicas
            if let remember { state.workloads[index].rememberedReplicas = remember }
            if forget { state.workloads[index].rememberedReplicas = nil }
        }
    }

    public func waitUntilSettled(workloads names: [String], timeout: Duration) async throws(ClusterError) {
        for workload in try await state().workloads where names.contains(workload.name) && workload.readyReplicas != workload.replicas {
            throw ClusterError(.timeout, "\(workload.name) did not become ready within \(Self.seconds(timeout)) (\(workload.readyReplicas) of \(workload.replicas) replicas ready; the simulation fixture marks component \(workload.component) never ready)")
        }
    }

    public func restart(workload name: String) async throws(ClusterError) {
        try await update { state throws(ClusterError) in
            guard let index = state.workloads.firstIndex(where: { $0.name == name }) else {
                throw ClusterError(.notFound, "no workload named \(name)")
            }
            if state.workloads[index].replicas > 0 { state.workloads[index].restarts += 1 }
        }
    }

    public func images(matching labels: [String: String]) async throws(ClusterError) -> [String] {
        var seen: Set<String> = []
        return try await state().workloads.filter { Self.matches($0.labels, labels) }.flatMap(\.images).filter { seen.insert($0).inserted }
    }

    public func environment(matching labels: [String: String]) async throws(ClusterError) -> [String: String] {
        try await state().workloads.first { Self.matches($0.labels, labels) }?.environment ?? [:]
    }

    public func startJob(_ job: JobSpec) async throws(ClusterError) -> JobState {
        try await update { state throws(ClusterError) in
            if state.jobs.contains(where: { $0.name == job.name }) { return .adopted }
            var results: [JobResult.CommandResult] = []
            var duration = 0.0
            let injected = Self.injectedBackupFailure(of: job, in: state, fixture: fixture)
            if injected == nil, job.labels["flowrunner.io/backup-job"] == nil, let source = job.environmentSource {
                // A job with a component's env writes its data (a migration, say).
                for index in state.workloads.indices where Self.matches(state.workloads[index].labels, source) {
                    state.workloads[index].dataRevision = (state.workloads[index].dataRevision ?? 1) + 1
                }
            }
            for command in job.commands {
                let behaviour = injected.map { ClusterFixture.Command(match: command, exitCode: 1, output: $0) } ?? fixture.behaviour(of: command)
                results.append(JobResult.CommandResult(command: command, exitCode: behaviour.exitCode, output: behaviour.output))
                duration += behaviour.duration
                if behaviour.exitCode != 0 { break }
            }
            state.jobs.append(SimulatedClusterState.Job(
                name: job.name, image: job.image, commands: job.commands, environment: job.environment, labels: job.labels,
                result: JobResult(commands: results), duration: duration, finished: duration == 0,
                startedAt: Date().timeIntervalSince1970
            ))
            while state.jobs.count > SimulatedClusterState.retainedJobs, let old = state.jobs.firstIndex(where: \.finished) {
                state.jobs.remove(at: old)
            }
            return .created
        }
    }

    public func waitForJob(named name: String, timeout: Duration, output: (@Sendable (String) -> Void)?) async throws(ClusterError) -> JobResult {
        guard let job = try await state().jobs.first(where: { $0.name == name }) else {
            throw ClusterError(.notFound, "no job named \(name)")
        }
        if !job.finished {
            let elapsed = job.startedAt.map { Date().timeIntervalSince1970 - $0 } ?? 0
            let duration = Seconds.clampedDuration(job.duration - elapsed)
            if duration > timeout {
                try? await Task.sleep(for: timeout)
                throw ClusterError(.timeout, "job \(name) did not finish within \(Self.seconds(timeout))")
            }
            do {
                try await Task.sleep(for: duration)
            } catch {
                throw ClusterError(.failed, "cancelled while waiting for job \(name)")
            }
            try await update { state throws(ClusterError) in
                if let index = state.jobs.firstIndex(where: { $0.name == name }) { state.jobs[index].finished = true }
            }
        }
        return job.result
    }

    public func deleteJob(named name: String) async throws(ClusterError) {
        try await update { state throws(ClusterError) in state.jobs.removeAll { $0.name == name } }
    }

    public func appVersion() async throws(ClusterError) -> String? {
        try await state().appVersion
    }

    public func setAppVersion(_ version: String, values: JSONValue?) async throws(ClusterError) {
        try await update { state throws(ClusterError) in
            if state.appVersion != version {
                for index in state.workloads.indices { state.workloads[index].dataRevision = (state.workloads[index].dataRevision ?? 1) + 1 }
            }
            Self.retag(&state, to: version)
            state.appVersion = version
            state.recordRelease(version: version, values: values ?? state.releases.last?.values, at: Date().timeIntervalSince1970)
        }
    }

    public func appliedValues() async throws(ClusterError) -> JSONValue? {
        try await state().releases.last?.values
    }

    public func waitForRollout(timeout: Duration) async throws(ClusterError) {
        let running = try await state().workloads.filter { $0.replicas > 0 }.map(\.name)
        try await waitUntilSettled(workloads: running, timeout: timeout)
    }

    static func seconds(_ duration: Duration) -> String {
        "\(duration.components.seconds) s"
    }
}
