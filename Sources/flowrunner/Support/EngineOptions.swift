import ActionHost
import ArgumentParser
import FlowRunner
import Foundation
import Primitives
import StateStore

/// Options shared by the commands that run actions.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The Python interpreter for actions.", discussion: "Default: $FLOWRUNNER_PYTHON, else python3 on PATH (resolved through shims once).", valueName: "path"))
    var python: String?

    @Option(name: .long, help: ArgumentHelp("Time limit per action, in seconds (the flow's timeout_seconds applies when shorter).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .long, help: ArgumentHelp("Simulation fixture (YAML) for the simulated cluster.", valueName: "file"))
    var fixture: String?

    /// An engine over `store`, with driver files and caches beside `cacheDirectory`.
    func engine(store: StateStore, cacheDirectory: String) throws -> Engine {
        let environment = ProcessInfo.processInfo.environment
        let interpreter: PythonInterpreter
        let pythonDirectory: String
        do {
            interpreter = try PythonInterpreter.resolve(explicit: python, environment: environment, cacheFile: cacheDirectory + "/python-interpreter.json")
            pythonDirectory = try HostResources.pythonDirectory(environment: environment)
        } catch {
            throw CommandFailure.failed(error.description)
        }
        var clusterFixture = ClusterFixture()
        if let fixture {
            do {
                clusterFixture = try ClusterFixture.load(path: fixture)
            } catch {
                throw CommandFailure.badInput(error.description)
            }
        }
        if let timeout, !(timeout > 0) {
            throw CommandFailure.badInput("--timeout \(timeout): expected a positive number of seconds")
        }
        let configuration = EngineConfiguration(
            actionRunner: ActionRunner(interpreter: interpreter, pythonDirectory: pythonDirectory, environment: environment),
            driverCacheDirectory: cacheDirectory + "/drivers",
            actionTimeout: timeout.map { .milliseconds(Int64($0 * 1000)) },
            fixture: clusterFixture,
            owner: LeaseOwner.current(role: "cli")
        )
        return Engine(store: store, configuration: configuration)
    }
}

extension StateOptions {
    /// The directory holding the state file (driver files and caches go there).
    var directory: String {
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
