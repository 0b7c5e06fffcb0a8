import Foundation
import Testing

/// The operator web page in a real headless Chromium (Debian's `chromium`
/// and `chromium-driver`, installed by `.ci/run`): log in, read a failed
/// run's traceback, retry it from the page and watch it succeed with its
/// replayed steps marked, follow a running run's logs live, cancel it.
/// Screenshots of each page go to `$FLOWRUNNER_SCREENSHOTS` (default
/// `.build/screenshots`); the README shows copies from docs/screenshots.
@Suite("Operator web page in a browser")
struct BrowserTests {
    static let screenshots = ProcessInfo.processInfo.environment["FLOWRUNNER_SCREENSHOTS"] ?? FlowRunnerBinary.repository + "/.build/screenshots"

    @Test("log in, see why a run failed, retry it from the page, follow a running run's logs live and cancel it")
    func operatorDay() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: WebDriver.chromedriver),
                     "the browser tests need chromedriver at \(WebDriver.chromedriver) (Debian: apt-get install chromium chromium-driver)")
        let workspace = Workspace()
        let (serve, _, marker) = try await WebPageTests.failedUpgrade(workspace)
        let browser = try await WebDriver()
        defer { Task { [browser] in await browser.quit() } }

        // Log in.
        try await browser.open(serve.baseURL + "/runs/2")
        #expect(try await browser.currentURL().contains("/login?next="))
        try await browser.screenshot(to: Self.screenshots + "/login.png")
        try await browser.type(WebPageTests.token, into: "#token")
        try await browser.click("form[action='/login'] button")
        // Why it failed: the action's traceback.
        let failed = try await browser.wait { $0.contains("Python traceback") }
        #expect(failed.contains("RuntimeError") && failed.contains("the cause is still there"), "\(failed.prefix(2000))")
        try await browser.screenshot(to: Self.screenshots + "/failed-run.png")

        // Retry: the plan first, then the retry, which replays what succeeded.
        try FileManager.default.removeItem(atPath: marker)
        try await browser.click("a.button[href='/runs/2/retry']")
        try await browser.click("form[action='/runs/2/retry'] button")
        let plan = try await browser.wait { $0.contains("The plan of attempt 4") }
        #expect(plan.contains("plan replay"))
        try await browser.screenshot(to: Self.screenshots + "/retry-plan.png")
        try await browser.click("form[method='post'][action='/runs/2/retry'] button")
        let succeeded = try await browser.wait { $0.contains("id=\"run-status\">succeeded") }
        #expect(succeeded.contains(">replayed<"), "\(succeeded.prefix(3000))")
        try await browser.screenshot(to: Self.screenshots + "/retried-run.png")

        // A running run: its logs arrive while the page is open, then it is cancelled from the page.
        let ticker = try await WebPageTests.startTicker(workspace, serve: serve)
        try await browser.open(serve.baseURL + "/runs/\(ticker)")
        let before = try await browser.run("return document.querySelectorAll('#logs span').length;") as? Int ?? 0
        let grown = try await browser.wait { page in page.components(separatedBy: "tick ").count > before + 3 }
        #expect(grown.components(separatedBy: "tick ").count > before + 3, "log lines arrive while the page is open")
        try await browser.screenshot(to: Self.screenshots + "/live-logs.png")
        // The runs page reloads itself every 3 s while a run is unfinished, but not over what the operator types.
        try await browser.open(serve.baseURL + "/")
        _ = try await browser.run("window.flowrunnerMark = 'same page';")
        var reloaded = false
        for _ in 0..<120 where !reloaded {
            try await Task.sleep(for: .milliseconds(250))
            // A script sent while the page reloads may fail: asked again.
            reloaded = (try? await browser.run("return window.flowrunnerMark || 'reloaded';")) as? String == "reloaded"
        }
        #expect(reloaded, "the runs page reloads itself while a run is unfinished")
        try await Task.sleep(for: .milliseconds(500)) // the reload's page is in place
        _ = try await browser.run("window.flowrunnerMark = 'same page';")
        try await browser.type("tick", into: "#deployment")
        try await Task.sleep(for: .seconds(8))
        #expect(try await browser.run("return document.getElementById('deployment').value;") as? String == "tick")
        #expect(try await browser.run("return window.flowrunnerMark || 'reloaded';") as? String == "same page")
        try await browser.open(serve.baseURL + "/runs/\(ticker)")
        try await browser.click("form[action='/runs/\(ticker)/cancel'] button")
        let cancelled = try await browser.wait { $0.contains("id=\"run-status\">cancelled") }
        #expect(cancelled.contains("Why it was cancelled"))

        try await browser.open(serve.baseURL + "/deployments/tb")
        try await browser.screenshot(to: Self.screenshots + "/deployment.png")
        try await browser.open(serve.baseURL + "/")
        try await browser.screenshot(to: Self.screenshots + "/runs.png")
    }
}

extension WebPageTests {
    /// Deploys `tk` (testbed, behaviour `ticker`: its upgrade logs a line
    /// every 0.2 s) and starts its upgrade; returns the upgrade's run id.
    static func startTicker(_ workspace: Workspace, serve: ServeProcess) async throws -> Int {
        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "tk", "driver": "testbed", "app_version": "1.0.0",
            "parameters": ["behaviour": "ticker", "marker": workspace.exchange + "/tk"],
        ])
        #expect(try await serve.waitForRun(try #require(created.runID, "\(created.text)"))["status"] as? String == "succeeded")
        let upgrade = try await serve.request(.POST, "/v1/deployments/tk/hooks/upgrade", json: ["target_version": "1.1.0"])
        return try #require(upgrade.runID, "\(upgrade.text)")
    }
}
