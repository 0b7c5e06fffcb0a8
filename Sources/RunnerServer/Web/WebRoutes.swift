import FlowModel
import FlowRunner
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import StateStore

/// The operator web page (DESIGN.md "Operator web page"), served beside the
/// API: `GET /` (runs), `/runs/{id}` (actions, steps, error, logs),
/// `/runs/{id}/retry` (the plan, then the retry), `/deployments[/{name}]`,
/// `/drivers`, `/login`. Server-rendered HTML that reads without
/// JavaScript; its forms post `application/x-www-form-urlencoded` with the
/// session's CSRF token, and answer with a redirect (303) or a page that
/// says why not.
struct WebRoutes: Sendable {
    let engine: Engine
    let sessions: WebSessions
    let bodyLimit: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("/static/page.css") { _, _ in Self.asset(WebAssets.css, type: "text/css; charset=utf-8") }
        router.get("/static/page.js") { _, _ in Self.asset(WebAssets.js, type: "text/javascript; charset=utf-8") }
        router.get("/login") { request, _ in try await loginPage(request, failed: false) }
        router.post("/login") { request, _ in try await logIn(request) }
        router.post("/logout") { request, _ in try await logOut(request) }
        router.get("/") { request, _ in try await runsPage(request) }
        // A run id that is not one shows a page saying so, not the API's JSON.
        router.get("/runs/:id") { request, context in try await runPage(request, runID: Self.id(context)) }
        router.post("/runs/:id/cancel") { request, context in try await cancel(request, runID: Self.id(context)) }
        router.get("/runs/:id/retry") { request, context in try await retryPage(request, runID: Self.id(context)) }
        router.get("/runs/:id/attempts") { request, context in try await attemptsPage(request, runID: Self.id(context)) }
        router.post("/runs/:id/retry") { request, context in try await retry(request, runID: Self.id(context)) }
        router.get("/deployments") { request, _ in try await deploymentsPage(request) }
        router.get("/deployments/:name") { request, context in try await deploymentPage(request, name: try context.parameters.require("name")) }
        router.post("/deployments/:name/upgrade") { request, context in try await upgrade(request, name: try context.parameters.require("name")) }
        router.get("/drivers") { request, _ in try await driversPage(request) }
        router.get("/drivers/:name/:number") { request, context in
            try await driverPage(request, name: try context.parameters.require("name"), number: try context.parameters.require("number"))
        }
    }

    // MARK: Reading pages

    func runsPage(_ request: Request) async throws -> Response {
        try await page(request, title: "Runs", template: "runs") { _ in
            let query = request.uri.queryParameters
            var filter = RunFilter(limit: 50)
            let deployment = query["deployment"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            filter.deployment = deployment
            let status = query["status"].map(String.init).flatMap(RunStatus.init(rawValue:))
            filter.status = status
            filter.beforeID = query["before"].flatMap { RecordID(String($0)) }
            let runs = try await engine.store.runs(matching: filter)
            let now = try await engine.store.currentTime()
            var rows: [[String: Any]] = []
            for run in runs {
                rows.append(WebViews.runRow(run, waiting: try await WaitingReason.load(run, store: engine.store, now: now).run))
            }
            var view: [String: Any] = [
                "runs": rows, "deployment": deployment ?? "", "hasDeployment": deployment != nil, "live": runs.contains { !$0.status.isFinished },
                "statuses": RunStatus.allCases.map { ["name": $0.rawValue, "selected": $0 == status] },
            ]
            if runs.count == filter.limit, let last = runs.last {
                var older = "/?before=\(last.id)"
                if let deployment { older += "&deployment=\(deployment)" }
                if let status { older += "&status=\(status.rawValue)" }
                view["older"] = older
            }
            if runs.contains(where: { !$0.status.isFinished }) { view["refresh"] = 3 }
            return view
        }
    }

    func runPage(_ request: Request, runID: RecordID) async throws -> Response {
        try await page(request, title: "Run \(runID)", template: "run") { _ in
            guard let report = try await RunReport.load(runID: runID, from: engine.store) else { throw APIError.notFound("no run \(runID)") }
            let query = (request.uri.queryParameters["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
            let all = request.uri.queryParameters["all"] == "1"
            // The newest page of the log; a search reads it all, page by page, and keeps the newest matches.
            var lines: [LogRecord]
            if query.isEmpty {
                lines = try await engine.store.lastLogs(runID: runID, limit: WebViews.logPage)
            } else {
                lines = []
                var after: RecordID = 0
                while true {
                    let page = try await engine.store.logs(runID: runID, afterID: after, limit: 10_000)
                    lines += page.filter { $0.message.range(of: query, options: [.caseInsensitive, .literal]) != nil }
                    if lines.count > WebViews.logPage { lines.removeFirst(lines.count - WebViews.logPage) }
                    guard page.count == 10_000, let last = page.last else { break }
                    after = last.id
                }
            }
            return WebViews.run(report, logs: lines, query: query, allSteps: all)
        }
    }

    func retryPage(_ request: Request, runID: RecordID) async throws -> Response {
        try await page(request, title: "Retry run \(runID)", template: "retry") { _ in
            guard let run = try await engine.store.run(id: runID) else { throw APIError.notFound("no run \(runID)") }
            let choice = try RetryChoice(query: request.uri.queryParameters)
            var view = choice.view
            view.merge(["id": run.id, "hook": run.hook.rawValue, "deployment": run.deployment]) { _, new in new }
            do throws(EngineError) {
                let plan = try await engine.planRetry(runID: runID, replay: choice.replay, driverVersion: choice.driverVersion)
                view["plan"] = WebViews.plan(plan)
            } catch {
                view["problem"] = error.message
            }
            return view
        }
    }

    func attemptsPage(_ request: Request, runID: RecordID) async throws -> Response {
        try await page(request, title: "Run \(runID): attempts", template: "attempts") { _ in
            guard let report = try await RunReport.load(runID: runID, from: engine.store) else { throw APIError.notFound("no run \(runID)") }
            let last = report.run.attempt
            func attempt(_ name: String, _ fallback: Int) throws -> Int {
                guard let text = request.uri.queryParameters[Substring(name)] else { return fallback }
                guard let number = Int(text), (1...last).contains(number) else {
                    throw APIError.badRequest("\(name) must be an attempt of run \(runID), from 1 to \(last)", field: name)
                }
                return number
            }
            return WebAttempts.view(report, a: try attempt("a", max(1, last - 1)), b: try attempt("b", last))
        }
    }

    func deploymentsPage(_ request: Request) async throws -> Response {
        try await page(request, title: "Deployments", template: "deployments") { _ in
            ["deployments": try await DeploymentReport.list(store: engine.store).map { listed -> [String: Any] in
                ["name": listed.deployment.name, "driver": listed.deployment.driver, "driverVersion": listed.driver?.number ?? 0,
                 "appVersion": listed.deployment.appVersion, "cluster": listed.deployment.cluster, "updated": WebViews.time(listed.deployment.updatedAt)]
            }]
        }
    }

    func deploymentPage(_ request: Request, name: String) async throws -> Response {
        try await page(request, title: "Deployment \(name)", template: "deployment") { _ in
            guard let report = try await DeploymentReport.load(named: name, store: engine.store, clusters: engine.clusters) else {
                throw APIError.notFound("unknown deployment \"\(name)\"")
            }
            let spec = try await engine.specification(versionID: report.deployment.driverVersionID)
            let known = Set(try await engine.store.runs(matching: RunFilter(deployment: name, limit: 200))
                .compactMap { JSONValue(storedText: $0.inputsJSON)?["target_version"]?.stringValue })
            let versions = WebViews.suggestedVersions(known: known, defaultVersion: spec.defaultVersion, supported: spec.supportedVersions)
            return WebViews.deployment(report, supported: spec.supportedVersions.map { "\($0)" } ?? "any version", versions: versions)
        }
    }

    func driversPage(_ request: Request) async throws -> Response {
        try await page(request, title: "Drivers", template: "drivers") { _ in
            ["drivers": try await engine.store.driverVersions().map { version -> [String: Any] in
                ["driver": version.driver, "number": version.number, "specVersion": version.specVersion,
                 "digest": String(version.digest.prefix(12)), "loaded": WebViews.time(version.loadedAt)]
            }]
        }
    }

    /// A driver version: its spec and values template as stored (the files the engine runs).
    func driverPage(_ request: Request, name: String, number: String) async throws -> Response {
        try await page(request, title: "Driver \(name) \(number)", template: "driver") { _ in
            guard let wanted = Int(number), wanted > 0,
                  let version = try await engine.store.driverVersion(driver: name, number: wanted) else {
                throw APIError.notFound("driver \(name) has no version \(number)")
            }
            let shown = ["driver.styrmin.yml", "values.j2.yml"]
            let files = try await engine.store.driverFiles(versionID: version.id).filter { shown.contains($0.path) }
                .sorted { (shown.firstIndex(of: $0.path) ?? 9) < (shown.firstIndex(of: $1.path) ?? 9) }
            return [
                "driver": version.driver, "number": version.number, "specVersion": version.specVersion, "digest": version.digest,
                "loaded": WebViews.time(version.loadedAt),
                "files": files.map { ["path": $0.path, "anchor": $0.path.replacingOccurrences(of: ".", with: "-"),
                                      "text": WebViews.shown(String(decoding: $0.contents, as: UTF8.self))] },
            ]
        }
    }

    // MARK: Helpers

    /// The run id of the path; 0 (no run has it, so the page says "no run 0") when it is not a number of 1 or more.
    static func id(_ context: BasicRequestContext) -> RecordID {
        guard let text = context.parameters.get("id"), let id = RecordID(text), id > 0 else { return 0 }
        return id
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
