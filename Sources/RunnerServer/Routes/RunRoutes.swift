import FlowModel
import FlowRunner
import Hummingbird
import StateStore

/// Runs:
/// - `GET /v1/runs?deployment=&status=&limit=&before=`: newest first,
///   `{"runs": [...], "next_before": ID | null}` (pass `before=ID` for the next page),
///   each run with its `waiting_reason` (null once finished);
/// - `GET /v1/runs/{id}`: the run with its actions and steps (the shape of `runs show --output json`);
/// - `POST /v1/runs/{id}/retry` `{"from_step"?, "restart"?, "driver_version"?, "plan_only"?}`: 202 `{"run"}`,
///   or with `"plan_only": true` 200 `{"plan"}` (``RetryPlan``; nothing is queued);
/// - `POST /v1/runs/{id}/cancel`: 202 `{"run"}` (cancelled at once when
///   queued, else `cancelling` until its worker stops the action).
struct RunRoutes: Sendable {
    let engine: Engine
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/runs") { request, _ in try await list(request) }
        router.get("/v1/runs/:id") { _, context in try await show(try Self.runID(context)) }
        router.post("/v1/runs/:id/retry") { request, context in try await retry(request, runID: try Self.runID(context)) }
        router.post("/v1/runs/:id/cancel") { _, context in try await cancel(try Self.runID(context)) }
    }

    /// The `{id}` of the path, a positive integer.
    static func runID(_ context: BasicRequestContext) throws(APIError) -> RecordID {
        guard let text = context.parameters.get("id"), let id = RecordID(text), id > 0 else {
            throw APIError.badRequest("the run id must be a positive integer, found \"\(context.parameters.get("id") ?? "")\"", field: "id")
        }
        return id
    }

    func list(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        var filter = RunFilter(limit: 50)
        if let deployment = query["deployment"].map(String.init), !deployment.isEmpty {
            // A deleted deployment's runs stay listed by its name.
            let exists = try await engine.store.deployment(named: deployment) != nil
            let hasRuns = try await !engine.store.runs(matching: RunFilter(deployment: deployment, limit: 1)).isEmpty
            guard exists || hasRuns else {
                throw APIError.notFound("unknown deployment \"\(deployment)\"")
            }
            filter.deployment = deployment
        }
        if let status = query["status"].map(String.init), !status.isEmpty {
            guard let parsed = RunStatus(rawValue: status) else {
                let known = RunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError.badRequest("unknown status \"\(status)\" (statuses: \(known))", field: "status")
            }
            filter.status = parsed
        }
        if let limit = query["limit"].map(String.init) {
            guard let number = Int(limit), (1...1_000).contains(number) else {
                throw APIError.badRequest("limit must be an integer from 1 to 1000, found \"\(limit)\"", field: "limit")
            }
            filter.limit = number
        }
        if let before = query["before"].map(String.init) {
            guard let id = RecordID(before), id > 0 else {
                throw APIError.badRequest("before must be a run id (a positive integer), found \"\(before)\"", field: "before")
            }
            filter.beforeID = id
        }
        // One more than asked tells whether a next page exists.
        var page = filter
        page.limit = filter.limit + 1
        let runs = try await engine.store.runs(matching: page)
        let shown = Array(runs.prefix(filter.limit))
        let next: JSONValue = runs.count > filter.limit ? shown.last.map { .int(Int($0.id)) } ?? .null : .null
        // Runs that have not finished say why (``WaitingReason``).
        let now = try await engine.store.currentTime()
        var listed: [JSONValue] = []
        for run in shown {
            guard case .object(var members) = RunSummary.json(run) else { continue }
            members["waiting_reason"] = try await WaitingReason.load(run, store: engine.store, now: now).run.map(JSONValue.string) ?? .null
            listed.append(.object(members))
        }
        return JSONResponse.make(["runs": .array(listed), "next_before": next])
    }

    func show(_ runID: RecordID) async throws -> Response {
        guard let report = try await RunReport.load(runID: runID, from: engine.store) else {
            throw APIError.notFound("no run \(runID)")
        }
        return JSONResponse.make(report.json)
    }

    func retry(_ request: Request, runID: RecordID) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["from_step", "restart", "driver_version", "plan_only"])
        let fromStep = try body.optionalInt("from_step", in: 1...Int(Int32.max))
        let restart = try body.optionalBool("restart") ?? false
        if fromStep != nil && restart {
            throw APIError.badRequest("\"from_step\" and \"restart\" cannot be combined", field: "restart")
        }
        let replay: Engine.ReplayMode = restart ? .restart : fromStep.map { .fromStep($0) } ?? .matching
        let driverVersion = try DeploymentRoutes.driverVersion(body)
        if try body.optionalBool("plan_only") == true {
            return JSONResponse.make(["plan": try await engine.planRetry(runID: runID, replay: replay, driverVersion: driverVersion).json])
        }
        let run = try await engine.requestRetry(runID: runID, replay: replay, driverVersion: driverVersion)
        return JSONResponse.make(["run": RunSummary.json(run)], status: .accepted)
    }

    func cancel(_ runID: RecordID) async throws -> Response {
        let run = try await RunControl(store: engine.store).cancel(runID: runID)
        return JSONResponse.make(["run": RunSummary.json(run)], status: .accepted)
    }
}
