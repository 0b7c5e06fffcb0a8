import ActionHost
import DriverSpec
import FlowModel
import FlowRunner
import Foundation
import Primitives
import Scheduler
import StateStore
import Synchronization

/// An engine over a fresh store with a scripted action runner, the driver
/// `scripted` loaded and (by ``deploy()``) a deployment `app` installed at
/// 1.0.0 on the simulated cluster. The upgrade hook runs the action
/// `upgrade` (core); `prepare` (pre) runs when a test scripts it.
struct EngineHarness {
    static let spec = """
        apiVersion: "styrmin.io/v1"
        kind: ApplicationDriver
        metadata:
          name: scripted
        spec:
          version: "1"
          supported_versions: ">=1.0,<2.0"
          default_version: "1.0.0"
          components:
            api:
              identifier:
                label:
                  app.kubernetes.io/name: scripted-api
          actions:
            - name: prepare
              hook: upgrade
              mode: pre
              location: "actions.py::prepare"
            - name: upgrade
              hook: upgrade
              mode: core
              location: "actions.py::upgrade"
        """
    static let actions = """
        def prepare(context):
            pass

        def upgrade(context):
            pass
        """

    let store: any StateStore
    let runner: ScriptedActionRunner
    let engine: Engine
    let time: ManualTime

    /// A harness over `store` (made with the harness's clock).
    init(makeStore: (StoreClock) throws -> any StateStore) rethrows {
        time = ManualTime()
        store = try makeStore(.manual(time))
        runner = ScriptedActionRunner(["prepare": { _ in .succeeded }])
        var configuration = EngineConfiguration(actionRunner: runner, driverCacheDirectory: "/nonexistent/flowrunner-tests")
        configuration.driverDirectoryOverride = "/nonexistent/scripted-driver"
        configuration.pollInterval = .milliseconds(10)
        engine = Engine(store: store, clusters: SimulatedClusterProvider(store: store), configuration: configuration)
    }

    /// A scheduler working as `owner` with short polls.
    func scheduler(_ owner: LeaseOwner = LeaseOwner(role: "test", processID: 1, host: "test-host"), lease: Duration = .seconds(30)) -> Scheduler {
        var configuration = SchedulerConfiguration(owner: owner)
        configuration.pollInterval = .milliseconds(10)
        configuration.leaseDuration = lease
        return Scheduler(engine: engine, configuration: configuration)
    }

    /// Loads the driver and installs deployment `app` at 1.0.0 (the setup hook's built-in core).
    func deploy() async throws {
        let files = [
            DriverFile(path: "driver.styrmin.yml", contents: Array(Self.spec.utf8)),
            DriverFile(path: "actions.py", contents: Array(Self.actions.utf8)),
        ]
        let loaded = DriverLoader.load(snapshot: DriverSnapshot(files: files), displayDirectory: "scripted")
        _ = try await DriverCatalog(store: store).store(loaded, directory: "scripted")
        let setup = try await engine.requestSetup(deployment: "app", driver: "scripted", appVersion: "1.0.0", cluster: SimulatedClusterProvider.clusterName)
        let done = try await scheduler().work(runID: setup.run.id)
        guard done.status == .succeeded else { throw EngineError(.failed, "setup ended \(done.status.rawValue): \(done.errorJSON ?? "")") }
    }

    /// Requests an upgrade of `app` to `version` and works it to its end.
    func upgrade(to version: String = "1.1.0") async throws -> RunRecord {
        let run = try await engine.requestUpgrade(deployment: "app", targetVersion: version)
        return try await scheduler().work(runID: run.id)
    }

    /// The steps of `action` in `run`, by attempt and sequence number.
    func steps(_ run: RecordID, action: String = "upgrade") async throws -> [StepRecord] {
        guard let actionRun = try await store.actionRuns(runID: run).first(where: { $0.name == action }) else { return [] }
        return try await store.steps(actionRunID: actionRun.id)
    }

    /// `(name, replayed)` of the steps of `attempt`.
    func attemptSteps(_ run: RecordID, attempt: Int, action: String = "upgrade") async throws -> [String] {
        try await steps(run, action: action).filter { $0.attempt == attempt }.map { "\($0.name)\($0.replayed ? " (replayed)" : "")" }
    }
}

/// Counts how often each task body really ran.
final class BodyCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func ran(_ name: String) -> JSONValue {
        let count = counts.withLock { counts -> Int in
            counts[name, default: 0] += 1
            return counts[name, default: 0]
        }
        return .string("\(name)#\(count)")
    }

    subscript(name: String) -> Int { counts.withLock { $0[name, default: 0] } }
}

extension EngineHarness {
    /// A harness over a fresh store (see ``StoreUnderTest``).
    static func make() throws -> EngineHarness {
        try EngineHarness { clock in try StoreUnderTest.make(clock: clock) }
    }
}

/// The store the engine's unit tests run against: the in-memory test double,
/// which the StateStoreTests conformance suite holds to SQLiteStateStore's
/// behaviour (so these tests need no files and leave none behind).
enum StoreUnderTest {
    static func make(clock: StoreClock) throws -> any StateStore {
        InMemoryStateStore(clock: clock)
    }
}
