public import DriverSpec
public import FlowModel
public import StateStore
import Foundation

/// Driver versions in the store: validating a driver directory and storing
/// it as an immutable snapshot (`drivers load`, `POST /v1/drivers`).
public struct DriverCatalog: Sendable {
    /// The state store.
    public let store: any StateStore

    /// The catalogue of `store`.
    public init(store: any StateStore) {
        self.store = store
    }

    /// A driver directory stored as a driver version.
    public struct Stored: Sendable {
        /// The stored version.
        public var record: DriverVersionRecord
        /// False when the same content was stored before (a no-op).
        public var created: Bool
        /// What validation found that does not stop the load.
        public var warnings: [Diagnostic]
    }

    /// Validates `driver` (from ``DriverLoader``) and stores it. The same
    /// content again returns the stored version with `created == false`.
    /// `directory` is where it was loaded from (kept so tracebacks name the
    /// author's files); nil for an upload, whose directory is gone.
    /// Throws ``EngineError/Code/failed`` naming the directory and the error
    /// count when the driver is invalid (nothing is stored then), or the
    /// store's error.
    public func store(_ driver: LoadedDriver, directory: String?) async throws(EngineError) -> Stored {
        guard driver.isValid, let spec = driver.specification else {
            let count = driver.diagnostics.errors.count
            throw EngineError(.failed, "\(directory ?? "the uploaded driver"): the driver is invalid (\(count) error\(count == 1 ? "" : "s")); nothing was loaded")
        }
        let files = driver.snapshot.files.map { StoredDriverFile(path: $0.path, contents: $0.contents) }
        do {
            let source = directory.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path }
            let stored = try await store.storeDriverVersion(
                driver: spec.name, specVersion: spec.version, digest: driver.snapshot.digest, files: files, sourceDirectory: source
            )
            return Stored(record: stored.record, created: stored.created, warnings: driver.diagnostics.warnings)
        } catch {
            throw EngineError(storeError: error)
        }
    }

    /// A driver version as JSON (`drivers list --output json`, `GET /v1/drivers`):
    /// `{"name", "version", "spec_version", "digest", "loaded_at"}`, plus
    /// `"created"` when `created` is given (a load).
    public static func json(_ record: DriverVersionRecord, created: Bool? = nil) -> JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(record.driver), "version": .int(record.number), "spec_version": .string(record.specVersion),
            "digest": .string(record.digest), "loaded_at": RunReport.time(record.loadedAt),
        ]
        if let created { members["created"] = .bool(created) }
        return .object(members)
    }

    /// Every stored driver version, by driver and number.
    public func versions() async throws(EngineError) -> [DriverVersionRecord] {
        do {
            return try await store.driverVersions()
        } catch {
            throw EngineError(storeError: error)
        }
    }
}
