public import DriverSpec
import Foundation
public import StateStore

/// The FlowRunner engine over one state store: validates and records hook
/// requests, retries and cancels runs, and executes them.
///
/// Contract:
/// - A request that is refused (unknown deployment, version outside
///   `supported_versions`, a missing or ill-typed parameter, ...) throws an
///   ``EngineError`` and stores nothing.
/// - ``execute(runID:observer:)`` works one run to its end in this process:
///   it claims the run (a lease renewed while it works), runs the planned
///   actions with step checkpoints and replay, applies automatic retries
///   from `@flow(retries=)`, and honours cancel requests from any process.
public final class Engine: Sendable {
    /// The state store.
    public let store: StateStore
    /// How actions run.
    public let configuration: EngineConfiguration

    /// An engine over `store`.
    public init(store: StateStore, configuration: EngineConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    func storeCall<T>(_ body: () throws(StateStoreError) -> T) throws(EngineError) -> T {
        do {
            return try body()
        } catch {
            switch error.code {
            case .notFound: throw EngineError(.notFound, error.reason)
            case .alreadyExists, .illegalTransition: throw EngineError(.conflict, error.reason)
            default: throw EngineError(.failed, error.description)
            }
        }
    }

    // MARK: Driver versions

    /// The stored driver version and its parsed spec.
    func loadDriver(versionID: RecordID) throws(EngineError) -> (record: DriverVersionRecord, spec: DriverSpecification, snapshot: DriverSnapshot) {
        guard let record = try storeCall({ () throws(StateStoreError) in try store.driverVersion(id: versionID) }) else {
            throw EngineError(.notFound, "driver version \(versionID) is not stored")
        }
        let files = try storeCall { () throws(StateStoreError) in try store.driverFiles(versionID: versionID) }
        let snapshot = DriverSnapshot(files: files.map { DriverFile(path: $0.path, contents: $0.contents) })
        let loaded = DriverLoader.load(snapshot: snapshot, displayDirectory: "\(record.driver)@\(record.number)")
        guard let spec = loaded.specification, loaded.isValid else {
            let first = loaded.diagnostics.errors.first.map(\.description) ?? "no spec"
            throw EngineError(.failed, "stored driver \(record.driver) version \(record.number) is invalid: \(first)")
        }
        return (record, spec, snapshot)
    }

    /// The directory holding the files of a driver version, written out once.
    func driverDirectory(for snapshot: DriverSnapshot) throws(EngineError) -> String {
        let directory = configuration.driverCacheDirectory + "/" + snapshot.digest
        if FileManager.default.fileExists(atPath: directory + "/.complete") { return directory }
        let staging = directory + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try snapshot.write(to: staging)
            _ = FileManager.default.createFile(atPath: staging + "/.complete", contents: Data())
        } catch {
            throw EngineError(.failed, "cannot write the driver files: \(error)")
        }
        if rename(staging, directory) != 0 {
            // Another process won the race: use its copy.
            try? FileManager.default.removeItem(atPath: staging)
            guard FileManager.default.fileExists(atPath: directory + "/.complete") else {
                throw EngineError(.failed, "cannot place the driver files at \(directory): \(String(cString: strerror(errno)))")
            }
        }
        return directory
    }

    // MARK: Requests

    /// Validates and records a setup hook for a new deployment.
    public func requestSetup(
        deployment name: String, driver: String, appVersion: String, parameters: [String: ParameterInput] = [:],
        config: [String: SpecValue] = [:], idempotencyKey: String? = nil
    ) throws(EngineError) -> (deployment: DeploymentRecord, run: RunRecord) {
        guard Self.isValidDeploymentName(name) else {
            throw EngineError(.badInput, "invalid deployment name \"\(name)\" (expected up to 53 letters, digits, '-', '_' or '.')")
        }
        if let existing = try storeCall({ () throws(StateStoreError) in try store.deployment(named: name) }) {
            if let idempotencyKey, let run = try storeCall({ () throws(StateStoreError) in
                try store.runs(matching: RunFilter(deployment: name, limit: 1_000)).first { $0.idempotencyKey == idempotencyKey }
            }) {
                return (existing, run)
            }
            throw EngineError(.conflict, "deployment \"\(name)\" already exists (driver \(existing.driver), version \(existing.appVersion)); use upgrade")
        }
        guard let version = try storeCall({ () throws(StateStoreError) in try store.driverVersion(driver: driver) }) else {
            let known = (try? store.driverVersions().map(\.driver)).map { Array(Set($0)).sorted() } ?? []
            let list = known.isEmpty ? "no drivers are loaded; load one with: flowrunner drivers load DIR" : "loaded: " + known.joined(separator: ", ")
            throw EngineError(.notFound, "unknown driver \"\(driver)\" (\(list))")
        }
        let (_, spec, _) = try loadDriver(versionID: version.id)
        try Self.checkVersion(appVersion, spec: spec)
        let resolved = try ParameterResolver.resolve(parameters, spec: spec)
        let context = GlobalContextBuilder(
            spec: spec, deployment: name, driverVersion: version.number, appVersion: appVersion, previousVersion: nil,
            parameters: resolved, config: config
        ).build()
        let inputs: SpecValue = [
            "target_version": .string(appVersion), "current_version": .null,
            "parameters": .object(resolved), "config": .object(config),
        ]
        let parametersJSON = Self.json(.object(resolved)), configJSON = Self.json(.object(config))
        let deployment = try storeCall { () throws(StateStoreError) in
            try store.createDeployment(NewDeployment(
                name: name, driver: spec.name, driverVersionID: version.id, appVersion: appVersion,
                parametersJSON: parametersJSON, configJSON: configJSON
            ))
        }
        let run = try storeCall { () throws(StateStoreError) in
            try store.createRun(NewRun(
                deploymentID: deployment.id, hook: Hook.setup.rawValue, inputsJSON: Self.json(inputs),
                contextJSON: Self.json(context), driverVersionID: version.id, idempotencyKey: idempotencyKey
            )).record
        }
        return (deployment, run)
    }

    /// Records a deployment that is already installed at `appVersion` (no
    /// setup run): for dry-runs of an upgrade, or to adopt an existing
    /// installation. Parameters are checked like ``requestSetup``'s.
    public func adoptDeployment(
        name: String, driverVersionID: RecordID, appVersion: String, parameters: [String: ParameterInput] = [:],
        config: [String: SpecValue] = [:]
    ) throws(EngineError) -> DeploymentRecord {
        guard Self.isValidDeploymentName(name) else {
            throw EngineError(.badInput, "invalid deployment name \"\(name)\"")
        }
        let (record, spec, _) = try loadDriver(versionID: driverVersionID)
        try Self.checkVersion(appVersion, spec: spec)
        let resolved = try ParameterResolver.resolve(parameters, spec: spec)
        return try storeCall { () throws(StateStoreError) in
            try store.createDeployment(NewDeployment(
                name: name, driver: record.driver, driverVersionID: record.id, appVersion: appVersion,
                parametersJSON: Self.json(.object(resolved)), configJSON: Self.json(.object(config))
            ))
        }
    }

    /// Validates and records an upgrade hook (`driverVersion`: nil keeps the
    /// deployment's pinned version; 0 means the newest loaded version).
    public func requestUpgrade(
        deployment name: String, targetVersion: String, driverVersion: Int? = nil, idempotencyKey: String? = nil
    ) throws(EngineError) -> RunRecord {
        guard let deployment = try storeCall({ () throws(StateStoreError) in try store.deployment(named: name) }) else {
            let known = (try? store.deployments().map(\.name)) ?? []
            let list = known.isEmpty ? "there are no deployments" : "deployments: " + known.joined(separator: ", ")
            throw EngineError(.notFound, "unknown deployment \"\(name)\" (\(list))")
        }
        if let idempotencyKey, let run = try storeCall({ () throws(StateStoreError) in
            try store.runs(matching: RunFilter(deployment: name, limit: 1_000)).first { $0.idempotencyKey == idempotencyKey }
        }) {
            return run
        }
        let versionID = try selectDriverVersion(deployment: deployment, number: driverVersion)
        let (record, spec, _) = try loadDriver(versionID: versionID)
        try Self.checkVersion(targetVersion, spec: spec)
        let parameters = Self.object(deployment.parametersJSON)
        let config = Self.object(deployment.configJSON)
        let context = GlobalContextBuilder(
            spec: spec, deployment: name, driverVersion: record.number, appVersion: targetVersion,
            previousVersion: deployment.appVersion, parameters: parameters, config: config
        ).build()
        let inputs: SpecValue = [
            "target_version": .string(targetVersion), "current_version": .string(deployment.appVersion),
            "parameters": .object(parameters),
        ]
        return try storeCall { () throws(StateStoreError) in
            try store.createRun(NewRun(
                deploymentID: deployment.id, hook: Hook.upgrade.rawValue, inputsJSON: Self.json(inputs),
                contextJSON: Self.json(context), driverVersionID: record.id, idempotencyKey: idempotencyKey
            )).record
        }
    }

    func selectDriverVersion(deployment: DeploymentRecord, number: Int?) throws(EngineError) -> RecordID {
        guard let number else { return deployment.driverVersionID }
        let selected = try storeCall { () throws(StateStoreError) in
            try store.driverVersion(driver: deployment.driver, number: number == 0 ? nil : number)
        }
        guard let selected else {
            throw EngineError(.notFound, "driver \(deployment.driver) has no version \(number)")
        }
        return selected.id
    }

    /// Replay policy of a retry.
    public enum ReplayMode: Sendable, Hashable {
        /// Replay every matching step (the default).
        case matching
        /// Replay only steps before this sequence number.
        case fromStep(Int)
        /// Replay nothing.
        case restart
    }

    /// Starts the next attempt of a failed, cancelled or abandoned run.
    /// `driverVersion`: nil keeps the run's, 0 the newest loaded, N that version.
    public func requestRetry(runID: RecordID, replay: ReplayMode = .matching, driverVersion: Int? = nil) throws(EngineError) -> RunRecord {
        guard let run = try storeCall({ () throws(StateStoreError) in try store.run(id: runID) }) else {
            throw EngineError(.notFound, "no run \(runID)")
        }
        var versionID: RecordID?
        if let driverVersion, let deployment = try storeCall({ () throws(StateStoreError) in try store.deployment(id: run.deploymentID) }) {
            versionID = try selectDriverVersion(deployment: deployment, number: driverVersion)
            if let versionID { _ = try loadDriver(versionID: versionID) }
        }
        let policy: SpecValue? = switch replay {
        case .matching: nil
        case .fromStep(let step): ["from_step": .int(step)]
        case .restart: ["restart": true]
        }
        let abandoned = run.leaseOwner.flatMap { LeaseOwner.isDeadLocalProcess($0) ? $0 : nil }
        return try storeCall { () throws(StateStoreError) in
            try store.retryRun(id: runID, replayJSON: policy.map(Self.json), driverVersionID: versionID, abandonedOwner: abandoned)
        }
    }

    /// Asks a run to stop (see ``RunControl/cancel(runID:)``).
    public func requestCancel(runID: RecordID) throws(EngineError) -> RunRecord {
        try RunControl(store: store).cancel(runID: runID)
    }

    // MARK: Helpers

    /// Letters, digits, '-', '_' and '.', starting with a letter or digit, at most 53 characters.
    static func isValidDeploymentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 53,
              first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static func checkVersion(_ text: String, spec: DriverSpecification) throws(EngineError) {
        let version: Version
        do {
            version = try Version(text)
        } catch {
            throw EngineError(.badInput, error.description)
        }
        if let supported = spec.supportedVersions, !supported.contains(version, includePrereleases: true) {
            throw EngineError(.badInput, "version \(text) is outside supported_versions \"\(supported)\" of driver \(spec.name)")
        }
    }

    static func json(_ value: SpecValue) -> String {
        JSONValueText.text(of: value)
    }

    static func object(_ text: String?) -> [String: SpecValue] {
        guard let text, let value = try? JSONValueText.parse(text), case .object(let members) = value else { return [:] }
        return members
    }
}
