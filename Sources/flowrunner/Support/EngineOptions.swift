import ActionHost
import ArgumentParser
import FlowModel
import FlowRunner
import KubernetesCluster
import Foundation
import Primitives
import Scheduler
import StateStore

/// Options shared by the commands that run actions.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Python interpreter for actions.", discussion: "Default: $FLOWRUNNER_PYTHON, else python3 on PATH (resolved through shims once).", valueName: "path"))
    var python: String?

    @Option(name: .long, help: ArgumentHelp("Time limit per action, in seconds (the flow's timeout_seconds applies when shorter).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .long, help: ArgumentHelp("Simulation fixture (YAML) for the simulated cluster.", valueName: "file"))
    var fixture: String?

    @Option(name: .long, help: ArgumentHelp("The unprivileged user action code runs as.", discussion: "A name, a uid or uid:gid. Default: nobody. Needs the engine to run as root.", valueName: "user"))
    var actionUser: String?

    @Flag(name: .long, help: ArgumentHelp("Run action code as the engine's own user, able to read its files and environment.", discussion: "For machines where actions cannot be isolated (the engine not root); recorded with each action run. $FLOWRUNNER_UNISOLATED_ACTIONS=1 does the same."))
    var unisolatedActions = false

    /// An engine over `store` acting on its clusters, with driver files and
    /// caches beside `cacheDirectory`. A `server` keeps one values renderer
    /// running instead of starting one per hook run. `rendersOnce`: this
    /// process works one setup or upgrade run, whose renderer the caller
    /// starts early (``HelmValues/Renderer/prewarm()``) and the run stops
    /// once its values are checked.
    func engine(
        store: any StateStore, cacheDirectory: String, driverDirectoryOverride: String? = nil, server: Bool = false,
        rendersOnce: Bool = false
    ) throws -> Engine {
        let environment = ProcessInfo.processInfo.environment
        let interpreter: PythonInterpreter
        let pythonDirectory: String
        let isolation: ActionIsolation
        do {
            let unisolated = unisolatedActions || environment["FLOWRUNNER_UNISOLATED_ACTIONS"] == "1"
            isolation = try ActionIsolation.resolve(user: actionUser, unisolated: unisolated)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
        do {
            interpreter = try PythonInterpreter.resolve(explicit: python, environment: environment, cacheFile: cacheDirectory + "/python-interpreter.json")
            pythonDirectory = try HostResources.pythonDirectory(environment: environment)
        } catch {
            throw CommandFailure.failed(error.description)
        }
        ActionIsolation.shieldEngineProcess()
        var actionRunner = ActionRunner(interpreter: interpreter, pythonDirectory: pythonDirectory, environment: environment)
        actionRunner.isolation = isolation
        actionRunner.protectedPaths = ProtectedPaths.engine(stateFile: (store as? SQLiteStateStore)?.path, environment: environment)
        // Registered clusters' kubeconfigs, as they are when each host starts (a cluster added while serve runs included).
        actionRunner.protectedFilesProvider = { @Sendable in
            ((try? await store.clusters()) ?? []).compactMap(\.kubeconfig).flatMap(Kubeconfig.credentialFiles(path:))
        }
        var clusterFixture = ClusterFixture()
        if let fixture {
            do {
                clusterFixture = try ClusterFixture.load(path: fixture)
            } catch {
                throw CommandFailure.badInput(error.description)
            }
        }
        var actionTimeout: Duration?
        if let timeout {
            do {
                actionTimeout = try Seconds.duration(timeout)
            } catch {
                throw CommandFailure.badInput("--timeout: \(error)")
            }
        }
        var configuration = EngineConfiguration(
            actionRunner: actionRunner,
            driverCacheDirectory: cacheDirectory + "/drivers",
            actionTimeout: actionTimeout
        )
        configuration.driverDirectoryOverride = driverDirectoryOverride
        var renderer = HelmValues.Renderer(python: interpreter.path, cacheDirectory: cacheDirectory + "/values-cache")
        if server || rendersOnce {
            renderer.worker = ValuesRenderWorker(interpreter: interpreter, pythonDirectory: pythonDirectory)
            renderer.stopsWorkerAfterUse = !server
        }
        configuration.valuesRenderer = renderer
        return Engine(store: store, clusters: ClusterProviders.make(store: store, fixture: clusterFixture), configuration: configuration)
    }

    /// The fixture's `app_version`, when a fixture is given (the version
    /// installed before a dry-run's upgrade when `--from` is not given).
    func fixtureAppVersion() throws -> String? {
        guard let fixture else { return nil }
        do {
            return try ClusterFixture.load(path: fixture).appVersion
        } catch {
            throw CommandFailure.badInput(error.description)
        }
    }

    /// The CLI's scheduler: one worker, this process as the lease owner.
    func scheduler(engine: Engine) -> Scheduler {
        Scheduler(engine: engine, configuration: SchedulerConfiguration(owner: LeaseOwner.current(role: "cli")))
    }
}

extension StateOptions {
    /// The directory holding the state file (driver files and caches go
    /// there); with a PostgreSQL state, `~/.flowrunner` on this machine.
    var directory: String {
        if isServer {
            let environment = ProcessInfo.processInfo.environment
            return (environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.flowrunner"
        }
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }
}

extension EngineError {
    /// The CLI's ending for this error: refusals exit 2, failures 1.
    var commandFailure: CommandFailure {
        isBadInput ? .badInput(message) : .failed(message)
    }
}
