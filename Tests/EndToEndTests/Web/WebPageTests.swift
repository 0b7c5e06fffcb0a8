import Foundation
import Testing

/// The operator web page over real HTTP (DESIGN.md "Operator web page"):
/// login, what each page shows, and the forms (cancel, retry with its
/// plan, upgrade), each guarded by the session's CSRF token.
@Suite("Operator web page: pages and forms")
struct WebPageTests {
    static let token = "web-token-0123456789abcdef"

    /// A serve with a token, a testbed deployment whose upgrade failed (run 2), and a logged-in client.
    static func failedUpgrade(_ workspace: Workspace) async throws -> (ServeProcess, WebClient, marker: String) {
        let marker = try await workspace.deployTestbed("tb", behaviour: "fail-after-two", markerExists: true)
        let failed = try await workspace.run(["upgrade", "tb", "--to", "1.1.0"])
        #expect(failed.status == 1, "\(failed.stdout)")
        let serve = try await ServeProcess(workspace, token: token)
        let web = WebClient(base: serve.baseURL)
        let login = try await web.post("/login", form: ["token": token, "next": "/runs/2"])
        #expect(login.status == 303 && login.location == "/runs/2", "\(login.status) \(login.html)")
        return (serve, web, marker)
    }

    @Test("without the token every page sends the browser to /login; a wrong token is refused; the session cookie is HttpOnly and SameSite=Strict")
    func login() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, token: Self.token)
        let web = WebClient(base: serve.baseURL)
        for path in ["/", "/runs/1", "/deployments", "/drivers"] {
            let page = try await web.get(path)
            #expect(page.status == 303 && page.location?.hasPrefix("/login?next=") == true, "\(path): \(page.status)")
        }
        let wrong = try await web.post("/login", form: ["token": "not-it", "next": "/"])
        #expect(wrong.status == 401 && wrong.html.contains("not this server's token"))
        let evil = try await web.post("/login", form: ["token": Self.token, "next": "//evil.example/x"])
        #expect(evil.status == 303 && evil.location == "/", "a login never leads off the server")
        let cookie = evil.headers["Set-Cookie"].first ?? ""
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
        let runs = try await web.get("/")
        #expect(runs.status == 200 && runs.html.contains("<h1>Runs</h1>"))
        #expect(runs.headers.first(name: "Content-Security-Policy")?.contains("default-src 'self'") == true)
        // The cookie reads the API (the page's log stream) but never changes anything through it.
        #expect(try await serve.request(.GET, "/v1/runs", headers: ["Cookie": String(cookie.split(separator: ";")[0])], token: .some(nil)).status == 200)
        #expect(try await serve.request(.POST, "/v1/runs/1/cancel", headers: ["Cookie": String(cookie.split(separator: ";")[0])], token: .some(nil)).status == 401)
        #expect(!serve.log.contains(Self.token), "the token is never logged")
    }

    @Test("a failed run's page shows its error and traceback; the retry page shows the plan; the retry replays the steps that succeeded")
    func failedRunAndRetry() async throws {
        let workspace = Workspace()
        let (serve, web, marker) = try await Self.failedUpgrade(workspace)
        let run = try await web.get("/runs/2")
        #expect(run.status == 200)
        #expect(run.html.contains("RuntimeError: the cause is still there") && run.html.contains("Python traceback"), "\(run.html)")
        #expect(run.html.contains("Retry…") && !run.html.contains("Cancel run 2"))

        let plan = try await web.get("/runs/2/retry?mode=matching")
        #expect(plan.html.contains("The plan of attempt 4") && plan.html.contains("plan replay"), "\(plan.html)")
        let csrf = try #require(plan.hidden("csrf"))
        let forged = try await web.post("/runs/2/retry", form: ["mode": "matching"])
        #expect(forged.status == 403, "a form without the CSRF token is refused")
        try FileManager.default.removeItem(atPath: marker)
        let retried = try await web.post("/runs/2/retry", form: ["mode": "matching", "csrf": csrf])
        #expect(retried.status == 303 && retried.location == "/runs/2", "\(retried.status) \(retried.html)")
        let ended = try await serve.waitForRun(2)
        #expect(ended["status"] as? String == "succeeded", "\(ended)")
        let after = try await web.get("/runs/2")
        #expect(after.html.contains(">replayed<") && after.html.contains("status succeeded"), "\(after.html)")
        let attempts = try await web.get("/runs/2/attempts")
        #expect(attempts.html.contains("attempt 3 beside attempt 4") && attempts.html.contains("stop_components replayed") && attempts.html.contains("only in attempt 4"), "\(attempts.html)")
        // The error the retry cleared from the run stays with attempt 3, on both pages; the flow's own retries (1, 2) keep theirs too.
        #expect(after.html.contains("Attempt 3: <span class=\"status failed\">failed</span>") && after.html.contains("<strong>upgrade</strong>: RuntimeError: the cause is still there"), "\(after.html)")
        #expect(after.html.contains("Attempt 1: <span class=\"status failed\">failed</span>, retried by the flow at"), "\(after.html)")
        #expect(!after.html.contains("no end recorded"))
        #expect(attempts.html.contains("<strong>upgrade</strong>: RuntimeError: the cause is still there") && attempts.html.contains("Attempt 4: <span class=\"status succeeded\">succeeded</span>"), "\(attempts.html)")
        #expect(try await web.get("/runs/2/attempts?a=9").status == 400)
        #expect(after.html.contains("Compare attempts") && after.html.contains(" a4 "), "log lines name their attempt")
        let wrongStep = try await web.get("/runs/2/retry?mode=from&from_step=0")
        #expect(wrongStep.status == 400 && wrongStep.html.contains("give the step to run again from"))
    }

    @Test("a running run is cancelled from its page; an upgrade is started from the deployment's page")
    func cancelAndUpgrade() async throws {
        let workspace = Workspace()
        try await workspace.deployTestbed("tb", behaviour: "hang")
        let serve = try await ServeProcess(workspace, token: Self.token)
        let web = WebClient(base: serve.baseURL)
        _ = try await web.post("/login", form: ["token": Self.token, "next": "/"])
        let deployment = try await web.get("/deployments/tb")
        #expect(deployment.html.contains("Deployment tb") && deployment.html.contains("supported:"), "\(deployment.html)")
        let csrf = try #require(deployment.hidden("csrf"))
        let upgrade = try await web.post("/deployments/tb/upgrade", form: ["version": "1.1.0", "csrf": csrf])
        #expect(upgrade.status == 303 && upgrade.location == "/runs/2", "\(upgrade.status) \(upgrade.html)")
        let outside = try await web.post("/deployments/tb/upgrade", form: ["version": "9.9.9", "csrf": csrf])
        #expect(outside.status == 422 && outside.html.contains("outside supported_versions"), "\(outside.html)")
        try await waitUntil(.seconds(60)) { FileManager.default.fileExists(atPath: workspace.exchange + "/tb.pid") }
        let running = try await web.get("/runs/2")
        #expect(running.html.contains("Cancel run 2") && running.html.contains("data-live=\"true\""), "\(running.html)")
        let cancelled = try await web.post("/runs/2/cancel", form: ["csrf": try #require(running.hidden("csrf"))])
        #expect(cancelled.status == 303)
        #expect(try await serve.waitForRun(2)["status"] as? String == "cancelled")
        let drivers = try await web.get("/drivers")
        #expect(drivers.html.contains("testbed") && drivers.html.contains("href=\"/drivers/testbed/1\""))
        let driver = try await web.get("/drivers/testbed/1")
        #expect(driver.html.contains("driver.styrmin.yml") && driver.html.contains("ApplicationDriver"), "\(driver.html)")
        #expect(try await web.get("/drivers/testbed/7").status == 404)
    }
}
