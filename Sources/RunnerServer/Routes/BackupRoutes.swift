import FlowModel
import FlowRunner
import Hummingbird
import StateStore

/// Backups, restores and deletes (DESIGN.md "Backup, restore, delete"):
/// - `GET /v1/backups[?deployment=NAME]`, `GET /v1/backups/{id}`;
/// - `POST /v1/deployments/{name}/backup`: records a backup and queues its
///   run, 202 `{"backup", "run"}`;
/// - `POST /v1/deployments/{name}/restore` `{"backup_id"}`: queues a restore, 202 `{"run"}`;
/// - `DELETE /v1/deployments/{name}[?purge_backups=1]`: queues a delete, 202 `{"run"}`.
///
/// The three writes honour `Idempotency-Key` (``IdempotencyKeys``).
struct BackupRoutes: Sendable {
    let engine: Engine
    let keys: IdempotencyKeys
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/backups") { request, _ in try await list(request) }
        router.get("/v1/backups/:id") { _, context in try await show(try context.parameters.require("id")) }
        router.post("/v1/deployments/:name/backup") { request, context in try await backUp(request, deployment: try context.parameters.require("name")) }
        router.post("/v1/deployments/:name/restore") { request, context in try await restore(request, deployment: try context.parameters.require("name")) }
        router.delete("/v1/deployments/:name") { request, context in try await delete(request, deployment: try context.parameters.require("name")) }
    }

    func list(_ request: Request) async throws -> Response {
        let deployment = request.uri.queryParameters["deployment"].map(String.init)
        return JSONResponse.make(["backups": .array(try await BackupReport.list(deployment: deployment, store: engine.store).map(BackupReport.json))])
    }

    func show(_ id: String) async throws -> Response {
        guard let number = Int64(id), number > 0 else { throw APIError.badRequest("backup id \"\(id)\" is not a number of 1 or more", field: "id") }
        guard let backup = try await engine.store.backup(id: number) else { throw APIError.notFound("unknown backup \(number)") }
        return JSONResponse.make(BackupReport.json(backup))
    }

    func backUp(_ request: Request, deployment: String) async throws -> Response {
        // No body, or an empty object: a backup takes no settings (yet).
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly([])
        let key = try IdempotencyKeys.key(of: request)
        let digest = key.map { _ in IdempotencyKeys.digest(route: "POST backup", body: body.canonicalBytes) }
        let created = try await keys.holding(key, scope: deployment) {
            try await engine.requestBackup(deployment: deployment, idempotencyKey: key, requestDigest: digest)
        }
        return accepted(["backup": BackupReport.json(created.backup), "run": RunSummary.json(created.run)], run: created.run)
    }

    func restore(_ request: Request, deployment: String) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["backup_id"])
        guard let member = body.value["backup_id"], let id = member.intValue, id > 0 else {
            throw APIError.badRequest("\"backup_id\" must be a backup id (a number of 1 or more)"
                + (body.value["backup_id"].map { ", found \($0.typeName) \($0.jsonText)" } ?? ", and it is missing"), field: "backup_id")
        }
        let key = try IdempotencyKeys.key(of: request)
        let digest = key.map { _ in IdempotencyKeys.digest(route: "POST restore", body: body.canonicalBytes) }
        let run = try await keys.holding(key, scope: deployment) {
            try await engine.requestRestore(deployment: deployment, backupID: Int64(id), idempotencyKey: key, requestDigest: digest)
        }
        return accepted(["run": RunSummary.json(run)], run: run)
    }

    func delete(_ request: Request, deployment: String) async throws -> Response {
        let purge: Bool
        switch request.uri.queryParameters["purge_backups"].map(String.init) {
        case nil, "0", "false": purge = false
        case "1", "true": purge = true
        case let other?: throw APIError.badRequest("purge_backups must be 1, true, 0 or false, found \"\(other)\"", field: "purge_backups")
        }
        let key = try IdempotencyKeys.key(of: request)
        let digest = key.map { _ in IdempotencyKeys.digest(route: "DELETE deployment purge=\(purge)", body: []) }
        let run = try await keys.holding(key, scope: deployment) {
            try await engine.requestDelete(deployment: deployment, purgeBackups: purge, idempotencyKey: key, requestDigest: digest)
        }
        return accepted(["run": RunSummary.json(run)], run: run)
    }

    func accepted(_ body: JSONValue, run: RunRecord) -> Response {
        var response = JSONResponse.make(body, status: .accepted)
        response.headers[.location] = "/v1/runs/\(run.id)"
        return response
    }
}
