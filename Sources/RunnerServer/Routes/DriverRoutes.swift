import DriverSpec
import FlowModel
import FlowRunner
import Hummingbird

/// `GET /v1/drivers` (every stored driver version) and `POST /v1/drivers`
/// (`{"path": DIR}`: a driver directory on the server's machine, validated
/// with its Python files checked and stored as a driver version; 201 when
/// new, 200 when the same content was stored before).
struct DriverRoutes: Sendable {
    let engine: Engine
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/drivers") { _, _ in try await list() }
        router.post("/v1/drivers") { request, _ in try await load(request) }
    }

    func list() async throws -> Response {
        let versions = try await DriverCatalog(store: engine.store).versions()
        return JSONResponse.make(["drivers": .array(versions.map { DriverCatalog.json($0) })])
    }

    func load(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["path"])
        let path = try body.string("path")
        guard !path.utf8.contains(0) else { throw APIError.badRequest("\"path\" cannot hold a NUL character", field: "path") }
        guard path.hasPrefix("/") else { throw APIError.badRequest("\"path\" must be an absolute directory path on the server", field: "path") }
        let driver = try await DriverCatalog.loadChecked(directory: path)
        guard driver.isValid else {
            let errors = driver.diagnostics.errors
            let shown = errors.prefix(5).map(\.description).joined(separator: "; ")
            throw APIError.unprocessable("the driver is invalid (\(errors.count) error\(errors.count == 1 ? "" : "s")): \(shown)", field: "path")
        }
        let stored = try await DriverCatalog(store: engine.store).store(driver, directory: path)
        var json = DriverCatalog.json(stored.record, created: stored.created)
        if case .object(var members) = json {
            members["warnings"] = .array(stored.warnings.map { .string($0.description) })
            json = .object(members)
        }
        return JSONResponse.make(json, status: stored.created ? .created : .ok)
    }
}
