import FlowModel
import FlowRunner
import Hummingbird
import Primitives
import StateStore

/// Deployments and their hooks:
/// - `GET /v1/deployments`, `GET /v1/deployments/{name}` (its cluster and recent runs);
/// - `POST /v1/deployments` `{"name", "driver", "app_version", "parameters"?,
///   "config"?, "secret_config"?, "cluster"?, "env"?, "command"?, "args"?}`:
///   creates the deployment and queues its setup hook, 202 `{"deployment", "run"}`;
/// - `PATCH /v1/deployments/{name}` `{"env"?, "command"?, "args"?}`: changes
///   its component inputs (``ComponentInputs``; `null` clears an override),
///   which apply from its next hook run, 200 with the deployment;
/// - `POST /v1/deployments/{name}/hooks/upgrade` `{"target_version",
///   "driver_version"?: N | "latest"}`: queues an upgrade, 202 `{"run"}`.
///
/// Both POSTs honour `Idempotency-Key` (``IdempotencyKeys``).
struct DeploymentRoutes: Sendable {
    let engine: Engine
    let keys: IdempotencyKeys
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/deployments") { _, _ in try await list() }
        router.get("/v1/deployments/:name") { _, context in try await show(try context.parameters.require("name")) }
        router.post("/v1/deployments") { request, _ in try await create(request) }
        router.patch("/v1/deployments/:name") { request, context in try await change(request, deployment: try context.parameters.require("name")) }
        router.post("/v1/deployments/:name/hooks/:hook") { request, context in
            try await hook(request, deployment: try context.parameters.require("name"), hook: try context.parameters.require("hook"))
        }
    }

    func list() async throws -> Response {
        JSONResponse.make(["deployments": .array(try await DeploymentReport.list(store: engine.store).map(\.json))])
    }

    func show(_ name: String) async throws -> Response {
        guard let report = try await DeploymentReport.load(named: name, store: engine.store, clusters: engine.clusters) else {
            throw APIError.notFound("unknown deployment \"\(name)\"")
        }
        return JSONResponse.make(report.json)
    }

    func create(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["name", "driver", "app_version", "parameters", "config", "secret_config", "cluster", "env", "command", "args"])
        let name = try body.string("name"), driver = try body.string("driver"), version = try body.string("app_version")
        let parameters = try body.optionalObject("parameters").mapValues(ParameterInput.value)
        let config = try body.optionalObject("config"), secrets = try body.optionalObject("secret_config")
        let cluster = try body.optionalString("cluster") ?? SimulatedClusterProvider.clusterName
        let components = try ComponentInputs.parse(
            env: try body.optionalObject("env"), command: try body.optionalObject("command"), args: try body.optionalObject("args")).inputs
        let key = try IdempotencyKeys.key(of: request)
        let digest = key.map { _ in IdempotencyKeys.digest(route: "POST /v1/deployments", body: body.canonicalBytes) }
        let created = try await keys.holding(key, scope: name) {
            try await engine.requestSetup(
                deployment: name, driver: driver, appVersion: version, cluster: cluster, parameters: parameters,
                config: config, secretConfig: secrets, components: components, idempotencyKey: key, requestDigest: digest
            )
        }
        let listed = try await DeploymentReport.list(store: engine.store).first { $0.deployment.id == created.deployment.id }
        var response = JSONResponse.make([
            "deployment": listed?.json ?? DeploymentReport.summary(created.deployment, driver: nil),
            "run": RunSummary.json(created.run),
        ], status: .accepted)
        response.headers[.location] = "/v1/runs/\(created.run.id)"
        return response
    }

    func change(_ request: Request, deployment name: String) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        for key in ["parameters", "config"] where body.value[key] != nil {
            throw APIError.unprocessable("\"\(key)\" cannot be changed yet: a deployment's \(key) are set when it is created", field: key)
        }
        try body.allowOnly(["env", "command", "args"])
        let (changes, clearing) = try ComponentInputs.parse(
            env: try body.optionalObject("env"), command: try body.optionalObject("command"), args: try body.optionalObject("args"))
        try await engine.changeComponentInputs(deployment: name, changes: changes, clearing: clearing)
        return try await show(name)
    }

    func hook(_ request: Request, deployment: String, hook: String) async throws -> Response {
        switch hook {
        case Hook.upgrade.rawValue: break
        case Hook.setup.rawValue:
            throw APIError.conflict("a deployment's setup hook runs when it is created (POST /v1/deployments); \"\(deployment)\" exists or is to be created there",
                                    field: "hook")
        case Hook.backup.rawValue, Hook.restore.rawValue:
            throw APIError.notFound("the \(hook) hook has its own route: POST /v1/deployments/\(deployment)/\(hook)")
        case Hook.delete.rawValue:
            throw APIError.notFound("the delete hook has its own route: DELETE /v1/deployments/\(deployment)")
        default:
            throw APIError.notFound("unknown hook \"\(hook)\" (hooks: setup, upgrade; backup, restore and delete have routes of their own)")
        }
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["target_version", "driver_version"])
        let target = try body.string("target_version")
        let driverVersion = try Self.driverVersion(body)
        let key = try IdempotencyKeys.key(of: request)
        let digest = key.map { _ in IdempotencyKeys.digest(route: "POST hooks/\(hook)", body: body.canonicalBytes) }
        let run = try await keys.holding(key, scope: deployment) {
            try await engine.requestUpgrade(deployment: deployment, targetVersion: target, driverVersion: driverVersion,
                                            idempotencyKey: key, requestDigest: digest)
        }
        var response = JSONResponse.make(["run": RunSummary.json(run)], status: .accepted)
        response.headers[.location] = "/v1/runs/\(run.id)"
        return response
    }

    /// `"driver_version"`: a number from 1, or `"latest"` (0 for the engine: the newest loaded).
    static func driverVersion(_ body: JSONBody) throws(APIError) -> Int? {
        guard let member = body.value["driver_version"], !member.isNull else { return nil }
        if member.stringValue == "latest" { return 0 }
        guard let number = member.intValue, number >= 1 else {
            throw APIError.badRequest("\"driver_version\" must be a driver version number (1 or more) or \"latest\", found \(member.description)",
                                      field: "driver_version")
        }
        return number
    }
}
