import DriverSpec
import FlowModel
import FlowRunner
import Hummingbird
import NIOCore

/// `GET /v1/drivers` (every stored driver version) and `POST /v1/drivers`:
/// a driver validated with its Python files checked and stored as a driver
/// version (201 when new, 200 when the same content was stored before),
/// either `{"path": DIR}`, a driver directory on the server's machine, or
/// the directory uploaded as a tar archive (``archiveTypes``; gzip, bzip2,
/// xz or none, as ``DriverArchive`` reads it). `POST /v1/drivers/archive`
/// takes only the archive: the OpenAPI document describes one body type per
/// operation, which every client generator handles.
struct DriverRoutes: Sendable {
    /// The Content-Types of an uploaded driver archive.
    static let archiveTypes: Set<String> = [
        "application/gzip", "application/x-gzip", "application/x-tar", "application/x-gtar", "application/x-compressed-tar",
        "application/x-bzip2", "application/x-xz", "application/octet-stream",
    ]

    let engine: Engine
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/drivers") { _, _ in try await list() }
        router.post("/v1/drivers") { request, _ in try await load(request) }
        router.post("/v1/drivers/archive") { request, _ in
            if let media = JSONBody.mediaType(of: request), !Self.archiveTypes.contains(media) {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               "this route takes a tar archive (Content-Type: application/octet-stream, application/gzip or application/x-tar), found Content-Type \(media)",
                               field: "Content-Type")
            }
            return try await upload(request)
        }
    }

    func list() async throws -> Response {
        let versions = try await DriverCatalog(store: engine.store).versions()
        return JSONResponse.make(["drivers": .array(versions.map { DriverCatalog.json($0) })])
    }

    func load(_ request: Request) async throws -> Response {
        let media = JSONBody.mediaType(of: request)
        if let media, Self.archiveTypes.contains(media) { return try await upload(request) }
        if let media, !JSONBody.isJSON(media) {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "a driver is sent as JSON ({\"path\"}, Content-Type: application/json) or as a tar archive (Content-Type: application/gzip), found Content-Type \(media)",
                           field: "Content-Type")
        }
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["path"])
        let path = try body.string("path")
        guard !path.utf8.contains(0) else { throw APIError.badRequest("\"path\" cannot hold a NUL character", field: "path") }
        guard path.hasPrefix("/") else { throw APIError.badRequest("\"path\" must be an absolute directory path on the server", field: "path") }
        return try await store(try await DriverCatalog.loadChecked(directory: path), directory: path, field: "path")
    }

    /// A driver directory uploaded as a tar archive.
    func upload(_ request: Request) async throws -> Response {
        let archive = try await JSONBody.collect(request, limit: bodyLimit, what: "the driver archive", hint: " (serve --max-body-bytes)")
        guard archive.readableBytes > 0 else { throw APIError.badRequest("the driver archive is empty", field: "body") }
        return try await store(try await DriverCatalog.loadCheckedArchive(Array(archive.readableBytesView)), directory: nil, field: "body")
    }

    /// Stores a valid driver; an invalid one is refused (422) with its first
    /// errors, naming `field` (where the driver came from).
    func store(_ driver: LoadedDriver, directory: String?, field: String) async throws -> Response {
        guard driver.isValid else {
            let errors = driver.diagnostics.errors
            let shown = errors.prefix(5).map(\.description).joined(separator: "; ")
            throw APIError.unprocessable("the driver is invalid (\(errors.count) error\(errors.count == 1 ? "" : "s")): \(shown)", field: field)
        }
        let stored = try await DriverCatalog(store: engine.store).store(driver, directory: directory)
        var json = DriverCatalog.json(stored.record, created: stored.created)
        if case .object(var members) = json {
            members["warnings"] = .array(stored.warnings.map { .string($0.description) })
            json = .object(members)
        }
        return JSONResponse.make(json, status: stored.created ? .created : .ok)
    }
}
