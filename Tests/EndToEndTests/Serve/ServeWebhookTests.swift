import Foundation
import Testing

/// `serve --webhook URL --webhook-secret-file F`: each run's end is posted,
/// signed the Standard Webhooks way, retried until the endpoint takes it, and
/// listed on the run; ends that happen while no server runs are posted later.
@Suite("Runner service: completion webhooks")
struct ServeWebhookTests {
    @Test("a run's end is posted signed, retried with the same delivery id after 503s, secrets masked, and listed on the run",
          .timeLimit(.minutes(5)))
    func deliveredAfterRetries() async throws {
        let workspace = Workspace()
        let receiver = try await WebhookReceiver(workspace, failFirst: 2)
        let serve = try await ServeProcess(workspace, arguments: receiver.serveArguments)
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let token = "tok-\(UUID().uuidString)"
        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "shop", "driver": "testbed", "app_version": "1.0.0",
            "parameters": ["behaviour": "secret-leak", "marker": workspace.exchange + "/shop", "token": token],
        ])
        let setup = try #require(created.runID)
        #expect(try await serve.waitForRun(setup)["status"] as? String == "succeeded")
        let upgrade = try #require(try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "1.1.0"]).runID)
        let failed = try await serve.waitForRun(upgrade)
        #expect(failed["status"] as? String == "failed")
        let lastAttempt = try #require(failed["attempt"] as? Int)
        #expect(lastAttempt == 3, "the flow's two retries ran first: they are not ends of the run")

        let posts = try await receiver.waitForPosts { posts in
            posts.contains { $0.run == upgrade && $0.answered == 204 } && posts.contains { $0.run == setup && $0.answered == 204 }
        }
        #expect(posts.allSatisfy { $0.signatureOK }, "every post verifies with the shared secret: \(posts)")
        #expect(posts.allSatisfy { $0.contentType == "application/json" })
        #expect(posts.prefix(2).allSatisfy { $0.answered == 503 })
        let upgradePosts = posts.filter { $0.run == upgrade }
        #expect(Set(upgradePosts.map(\.id)).count == 1, "one end, one delivery id however often it is sent: \(upgradePosts)")
        let event = try #require(upgradePosts.last?.body)
        #expect(event["type"] as? String == "run.ended")
        let data = try #require(event["data"] as? [String: Any])
        #expect(data["deployment"] as? String == "shop" && data["hook"] as? String == "upgrade")
        #expect(data["status"] as? String == "failed" && data["attempt"] as? Int == lastAttempt)
        let error = try #require(data["error"] as? [String: Any])
        let errorText = "\(error)"
        #expect(errorText.contains("login refused"), "\(errorText)")
        #expect(!errorText.contains(token), "the secret parameter is masked in the webhook body")
        #expect(!posts.contains { "\($0.body ?? [:])".contains(token) })

        // The run lists its delivery: delivered (recorded just after the answer), after how many attempts.
        var deliveries: [[String: Any]] = []
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(60) {
            let report = try await serve.request(.GET, "/v1/runs/\(upgrade)").object
            deliveries = report["webhook_deliveries"] as? [[String: Any]] ?? []
            if deliveries.first?["status"] as? String == "delivered" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(deliveries.count == 1)
        #expect(deliveries.first?["status"] as? String == "delivered")
        #expect(deliveries.first?["id"] as? String == upgradePosts.first?.id)
        #expect(deliveries.first?["attempts"] as? Int == upgradePosts.count)
        #expect(deliveries.first?["last_status_code"] as? Int == 204)
        let text = try await workspace.run(["runs", "show", String(upgrade)]).stdout
        #expect(text.contains("Webhooks:") && text.contains("attempt \(lastAttempt) failed → http://127.0.0.1:\(receiver.port)/… delivered"), "\(text)")
    }

    @Test("a run that ends while no server runs is posted when serve starts again; an earlier run's end is not",
          .timeLimit(.minutes(5)))
    func endsWhileDownAreDelivered() async throws {
        let workspace = Workspace()
        try await workspace.deployTestbed("shop", behaviour: "ok")
        let receiver = try await WebhookReceiver(workspace, failFirst: 0)
        let first = try await ServeProcess(workspace, arguments: receiver.serveArguments)
        _ = try await first.request(.GET, "/healthz")
        try await first.stop(SIGTERM)
        #expect(first.process.terminationStatus == 0, "\(first.log)")

        let upgraded = try await workspace.run(["upgrade", "shop", "--to", "1.1.0"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        let runs = try await workspace.json(["runs", "list", "--deployment", "shop", "--output", "json"]) as? [[String: Any]] ?? []
        let upgrade = try #require(runs.compactMap { $0["id"] as? Int }.max())

        let second = try await ServeProcess(workspace, arguments: receiver.serveArguments)
        let posts = try await receiver.waitForPosts { $0.contains { $0.run == upgrade } }
        #expect(posts.map(\.run) == [upgrade], "only the run that ended after the webhook was first registered: \(posts)")
        #expect(posts.first?.body?["data"].flatMap { ($0 as? [String: Any])?["status"] as? String } == "succeeded")
        _ = second
    }

    @Test("a 2xx whose body never finishes is no delivery: the attempt ends at the request timeout and is retried; credentials in the URL go as Basic authorization, never shown",
          .timeLimit(.minutes(5)))
    func slowAnswerAndCredentials() async throws {
        let workspace = Workspace()
        let receiver = try await WebhookReceiver(workspace, failFirst: 0, slowFirst: true)
        let url = "http://hook-user:pa55word@127.0.0.1:\(receiver.port)/services/T0/B0/PATHSECRET"
        let serve = try await ServeProcess(workspace, arguments: ["--webhook", url, "--webhook-secret-file", receiver.secretFile])
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let created = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "testbed", "app_version": "1.0.0"])
        let setup = try #require(created.runID)
        #expect(try await serve.waitForRun(setup)["status"] as? String == "succeeded")

        let posts = try await receiver.waitForPosts { $0.contains { $0.answered == 204 } }
        #expect(posts.count == 2 && posts.first?.answered == 0, "the slow answer, then the retry: \(posts)")
        #expect(Set(posts.map(\.id)).count == 1, "one delivery: \(posts)")
        let basic = "Basic " + Data("hook-user:pa55word".utf8).base64EncodedString()
        #expect(posts.allSatisfy { $0.authorization == basic }, "\(posts.map { $0.authorization ?? "none" })")

        let shown = try await serve.request(.GET, "/v1/runs/\(setup)").text + (try await workspace.run(["runs", "show", String(setup)]).stdout)
        #expect(shown.contains("http://127.0.0.1:\(receiver.port)/…"), "\(shown)")
        for secret in ["pa55word", "PATHSECRET", "hook-user"] {
            #expect(!shown.contains(secret) && !serve.log.contains(secret), "\(secret) is shown")
        }
    }

    @Test("bad webhook settings are refused before serve starts, naming the option")
    func refusedSettings() async throws {
        let workspace = Workspace()
        let secret = workspace.directory + "/secret"
        try "a-secret-of-enough-length".write(toFile: secret, atomically: true, encoding: .utf8)
        let short = workspace.directory + "/short"
        try "short".write(toFile: short, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--webhook", "http://127.0.0.1:9/x"], "--webhook needs --webhook-secret-file"),
            (["--webhook-secret-file", secret], "--webhook-secret-file needs --webhook"),
            (["--webhook", "ftp://example.com/x", "--webhook-secret-file", secret], "--webhook: expected an http:// or https:// URL"),
            (["--webhook", "not a url", "--webhook-secret-file", secret], "--webhook: expected an http:// or https:// URL"),
            (["--webhook", "http://127.0.0.1:9/x", "--webhook-secret-file", short], "--webhook-secret-file: the secret has 5 bytes"),
            (["--webhook", "http://127.0.0.1:9/x", "--webhook-secret-file", secret + "-missing"], "cannot read the file"),
        ]
        for (arguments, message) in cases {
            let result = try await workspace.run(["serve", "--port", "0"] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}

/// The Python webhook endpoint of `Fixtures/webhook_receiver.py`, with its
/// secret file; stopped when released.
final class WebhookReceiver: Sendable {
    let process: Process
    let port: Int
    let secretFile: String
    let logFile: String

    /// One post as the receiver logged it.
    struct Post: CustomStringConvertible, @unchecked Sendable {
        var id: String
        var signatureOK: Bool
        var contentType: String?
        var authorization: String?
        var answered: Int
        var body: [String: Any]?
        var run: Int? { (body?["data"] as? [String: Any])?["run"] as? Int }
        var description: String { "\(id) run \(run ?? -1) → \(answered == 0 ? "slow" : String(answered)) signature \(signatureOK)" }
    }

    var serveArguments: [String] {
        ["--webhook", "http://127.0.0.1:\(port)/hooks", "--webhook-secret-file", secretFile]
    }

    /// A receiver failing the first `failFirst` posts with 503; with
    /// `slowFirst`, answering the first 200 with a body that never finishes in time.
    init(_ workspace: Workspace, failFirst: Int, slowFirst: Bool = false) async throws {
        let base = workspace.directory + "/webhook-\(UUID().uuidString)"
        secretFile = base + ".secret"
        logFile = base + ".log"
        let portFile = base + ".port"
        // A Standard Webhooks secret: whsec_ and base64 of 32 random bytes.
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try "whsec_\(key)\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let python = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_PYTHON"] ?? "python3"
        process.arguments = [python, FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/webhook_receiver.py",
                             secretFile, logFile, portFile, "--fail", String(failFirst)] + (slowFirst ? ["--slow-first"] : [])
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        var port: Int?
        let start = ContinuousClock.now
        while port == nil, process.isRunning, ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
        }
        guard let port else {
            process.terminate()
            throw ServeError(message: "the webhook receiver did not start")
        }
        self.port = port
    }

    /// Every post so far, in order.
    var posts: [Post] {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Post(id: entry["id"] as? String ?? "", signatureOK: entry["signature_ok"] as? Bool ?? false,
                        contentType: entry["content_type"] as? String, authorization: entry["authorization"] as? String,
                        answered: entry["answered"] as? Int ?? 0,
                        body: entry["body"] as? [String: Any])
        }
    }

    /// Waits (up to two minutes) until the posts satisfy `condition`; returns them.
    func waitForPosts(_ condition: ([Post]) -> Bool) async throws -> [Post] {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(120) {
            let seen = posts
            if condition(seen) { return seen }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServeError(message: "the expected webhook posts did not arrive: \(posts)")
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
