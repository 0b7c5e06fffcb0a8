import FlowModel
import Foundation
@testable import StateStore

/// A scratch directory with a fresh state database path, removed afterwards.
final class ScratchDatabase: Sendable {
    let directory: String
    var path: String { directory + "/state.sqlite" }

    init() {
        directory = NSTemporaryDirectory() + "flowrunner-store-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func open(clock: StoreClock = .system) throws -> SQLiteStateStore { try SQLiteStateStore(path: path, clock: clock) }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

extension StateStore {
    /// A driver version and a deployment to hang runs on.
    func makeDeployment(_ name: String = "app") async throws -> DeploymentRecord {
        let version = try await storeDriverVersion(driver: "drv", specVersion: "1", digest: "digest-1", files: []).record
        return try await createDeployment(NewDeployment(name: name, driver: "drv", driverVersionID: version.id, appVersion: "0.1.0", cluster: "simulated"))
    }

    func makeRun(_ deployment: DeploymentRecord, key: String? = nil, notBefore: Date? = nil) async throws -> RunRecord {
        try await createRun(NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: #"{"target_version":"0.2.0"}"#,
                             contextJSON: "{}", driverVersionID: deployment.driverVersionID, idempotencyKey: key,
                             notBefore: notBefore)).record
    }
}

extension LeaseOwner {
    /// A lease owner for tests: `NAME-1@test-host`.
    static func test(_ name: String) -> LeaseOwner {
        LeaseOwner(role: name, processID: 1, host: "test-host")
    }
}

/// Runs the StateStoreProbe helper binary built beside the tests.
enum Probe {
    static let path: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("StateStoreProbe").path
    }()

    static func start(_ arguments: [String], stdout: Pipe) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        return process
    }
}
