public import DriverSpec
import Foundation
public import Primitives
public import StateStore

/// The FlowRunner engine over one state store and the clusters it may act
/// on: validates and records hook requests, retries and cancels runs, and
/// runs one claimed attempt of a run (``runAttempt(_:owner:lease:observer:)``).
///
/// Claiming, leases, heartbeats, recovery and delayed retries are the
/// Scheduler's: the engine never claims a run by itself.
///
/// Contract:
/// - A request that is refused (unknown deployment, version outside
///   `supported_versions`, a missing or ill-typed parameter, ...) throws an
///   ``EngineError`` and stores nothing.
/// - The engine never builds a ``ClusterBackend``: it asks ``clusters`` for the
///   backend of the deployment's cluster.
public final class Engine: Sendable {
    /// The state store.
    public let store: any StateStore
    /// Where deployments' cluster backends come from.
    public let clusters: any ClusterProvider
    /// How actions run.
    public let configuration: EngineConfiguration
    /// Driver versions parsed before, by digest.
    let parsedDrivers = ParsedDriverCache()

    /// An engine over `store`, acting on the clusters `clusters` serves.
    public init(store: any StateStore, clusters: any ClusterProvider, configuration: EngineConfiguration) {
        self.store = store
        self.clusters = clusters
        self.configuration = configuration
    }

    /// Runs a store call, turning its error into the engine's: unknown records
    /// are ``EngineError/Code/notFound``, duplicates and illegal transitions
    /// ``EngineError/Code/conflict``, anything else ``EngineError/Code/failed``.
    func stored<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        try await EngineError.storing(body)
    }

    // MARK: Driver versions

    /// A stored driver version with its parsed spec and files.
    struct LoadedDriverVersion: Sendable {
        var record: DriverVersionRecord
        var spec: DriverSpecification
        var snapshot: DriverSnapshot
    }

    /// The specification of stored driver version `versionID` (parsed once
    /// per process); throws as ``loadDriver(versionID:)`` does.
    public func specification(versionID: RecordID) async throws(EngineError) -> DriverSpecification {
        try await loadDriver(versionID: versionID).spec
    }

    /// The stored driver version `versionID`, parsed. Throws
    /// ``EngineError/Code/notFound`` when it is not stored and
    /// ``EngineError/Code/failed`` when its stored spec is invalid.
    func loadDriver(versionID: RecordID) async throws(EngineError) -> LoadedDriverVersion {
        guard let record = try await stored({ () async throws(StateStoreError) in try await store.driverVersion(id: versionID) }) else {
            throw EngineError(.notFound, "driver version \(versionID) is not stored")
        }
        if var cached = parsedDrivers.version(digest: record.digest) {
            cached.record = record
            return cached
        }
        let files = try await stored { () async throws(StateStoreError) in try await store.driverFiles(versionID: versionID) }
        let snapshot = DriverSnapshot(files: files.map { DriverFile(path: $0.path, contents: $0.contents) })
        let loaded = DriverLoader.load(snapshot: snapshot, displayDirectory: "\(record.driver)@\(record.number)")
        guard let spec = loaded.specification, loaded.isValid else {
            let first = loaded.diagnostics.errors.first.map(\.description) ?? "no spec"
            throw EngineError(.failed, "stored driver \(record.driver) version \(record.number) is invalid: \(first)")
        }
        let version = LoadedDriverVersion(record: record, spec: spec, snapshot: snapshot)
        parsedDrivers.keep(version)
        return version
    }

    /// The directory holding the files of a driver version, written out once
    /// (`<driverCacheDirectory>/<digest>/`); concurrent writers race safely.
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

    /// The backend of `deployment`'s cluster.
    func cluster(of deployment: DeploymentRecord) async throws(EngineError) -> any ClusterBackend {
        do {
            return try await clusters.backend(cluster: deployment.cluster, deployment: deployment.name)
        } catch {
            throw EngineError(error.code == .notFound ? .notFound : .failed, error.message)
        }
    }
}
