import Foundation
import Testing

/// `flowrunner serve` through real HTTP: routes, errors, auth, idempotency.
@Suite("Runner service: the HTTP API")
struct ServeAPITests {
    static let token = "test-token-0123456789abcdef"

    @Test("without the token every route but /healthz answers 401 in the API's error shape; with it, 200")
    func bearerToken() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, token: Self.token)
        let health = try await serve.request(.GET, "/healthz", token: .some(nil))
        #expect(health.status == 200 && health.object["status"] as? String == "ok")
        for token: String? in [nil, "wrong-token-0123456789", "Bearer"] {
            let refused = try await serve.request(.GET, "/v1/runs", token: .some(token))
            #expect(refused.status == 401, "\(refused.text)")
            #expect(refused.error["code"] as? String == "unauthorized")
            #expect(!refused.text.contains(Self.token))
            #expect(refused.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
        }
        #expect(try await serve.request(.GET, "/v1/runs").status == 200)
        #expect(!serve.log.contains(Self.token), "the token is never logged")
        // HEAD answers as GET does, without a body: with the token 200, without it 401.
        for path in ["/healthz", "/v1/runs", "/v1/openapi.json"] {
            let head = try await serve.request(.HEAD, path)
            #expect(head.status == 200 && head.text.isEmpty, "HEAD \(path): \(head.status) \(head.text.prefix(200))")
        }
        #expect(try await serve.request(.HEAD, "/v1/runs", token: .some(nil)).status == 401)
    }

    @Test("a non-loopback bind without a token is refused with exit 2")
    func nonLoopbackNeedsToken() async throws {
        let workspace = Workspace()
        for host in ["0.0.0.0", "::", "10.0.0.1", "127.example", "127.0.0.1.nip.io", "::ffff:127.0.0.1"] {
            let result = try await workspace.run(["serve", "--host", host, "--port", "0"])
            #expect(result.status == 2, "\(host)")
            #expect(result.stderr.contains("without a token"), "\(host): \(result.stderr)")
        }
        #expect(workspace.stateUntouched, "a refused serve creates no state")
    }

    @Test("bad requests get one JSON error shape with the field; unknown routes 404; no paths or traces leak")
    func errorShapes() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let cases: [(method: String, path: String, body: Any?, raw: String?, status: Int, code: String, field: String?)] = [
            ("GET", "/v1/nothing", nil, nil, 404, "not_found", nil),
            ("GET", "/v1/runs/abc", nil, nil, 400, "bad_request", "id"),
            ("GET", "/v1/runs/999", nil, nil, 404, "not_found", nil),
            ("GET", "/v1/runs?status=done", nil, nil, 400, "bad_request", "status"),
            ("GET", "/v1/runs?limit=0", nil, nil, 400, "bad_request", "limit"),
            ("POST", "/v1/deployments", nil, "{not json", 400, "bad_request", nil),
            ("POST", "/v1/deployments", [1, 2], nil, 400, "bad_request", nil),
            ("POST", "/v1/deployments", ["name": "x"], nil, 400, "bad_request", "driver"),
            ("POST", "/v1/deployments", ["name": "x", "driver": "testbed", "app_version": 1], nil, 400, "bad_request", "app_version"),
            ("POST", "/v1/deployments", ["name": "x", "driver": "nope", "app_version": "1.0", "colour": 1], nil, 400, "bad_request", "colour"),
            ("POST", "/v1/deployments", ["name": "x", "driver": "nope", "app_version": "1.0"], nil, 404, "not_found", nil),
            ("POST", "/v1/deployments/x/hooks/upgrade", ["target_version": "1.0"], nil, 404, "not_found", nil),
            ("POST", "/v1/deployments/x/hooks/explode", [:] as [String: Any], nil, 404, "not_found", nil),
            ("POST", "/v1/runs/1/retry", ["from_step": 0], nil, 400, "bad_request", "from_step"),
            ("POST", "/v1/drivers", ["path": "relative/dir"], nil, 400, "bad_request", "path"),
            ("POST", "/v1/drivers", ["path": "/nonexistent/driver"], nil, 400, "bad_request", "path"),
            ("POST", "/v1/drivers", ["path": "/tmp/a\u{0}b"], nil, 400, "bad_request", "path"),
            ("POST", "/v1/deployments", nil, "name=x", 415, "unsupported_media_type", "Content-Type"),
        ]
        for item in cases {
            var headers: [String: String] = [:]
            var response: APIResponse
            if let raw = item.raw {
                headers["Content-Type"] = item.status == 415 ? "application/x-www-form-urlencoded" : "application/json"
                response = try await serve.rawRequest(item.method, item.path, body: raw, headers: headers)
            } else {
                response = try await serve.request(.init(rawValue: item.method), item.path, json: item.body, headers: headers)
            }
            #expect(response.status == item.status, "\(item.method) \(item.path): \(response.status) \(response.text)")
            #expect(response.error["code"] as? String == item.code, "\(item.path): \(response.text)")
            #expect((response.error["message"] as? String)?.isEmpty == false)
            if let field = item.field { #expect(response.error["field"] as? String == field, "\(item.path): \(response.text)") }
            #expect(!response.text.contains(workspace.directory) && !response.text.contains(".swift"), "\(response.text)")
        }
        for (method, path, allow) in [("DELETE", "/v1/runs/1", "GET"), ("PUT", "/v1/deployments", "GET, POST"), ("POST", "/healthz", "GET")] {
            let refused = try await serve.rawRequest(method, path, body: "{}")
            #expect(refused.status == 405 && refused.error["code"] as? String == "method_not_allowed", "\(method) \(path): \(refused.text)")
            #expect(refused.headers.first(name: "Allow") == allow, "\(method) \(path): \(refused.headers)")
        }
        let big = String(repeating: "x", count: 2 << 20)
        let tooLarge = try await serve.request(.POST, "/v1/deployments", json: ["name": big])
        #expect(tooLarge.status == 413 && tooLarge.error["code"] as? String == "payload_too_large", "\(tooLarge.status)")
        #expect(try await serve.request(.GET, "/healthz").status == 200, "still serving after every bad request")
    }

    @Test("load a driver, create a deployment (setup), upgrade it, list, show and page through runs")
    func lifecycle() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let loaded = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        #expect(loaded.status == 201, "\(loaded.text)")
        #expect(loaded.object["name"] as? String == "testbed" && loaded.object["version"] as? Int == 1)
        #expect(try await serve.request(.POST, "/v1/drivers", json: ["path": testbed]).status == 200, "the same content again")
        #expect(((try await serve.request(.GET, "/v1/drivers")).object["drivers"] as? [Any])?.count == 1)

        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "shop", "driver": "testbed", "app_version": "1.0.0",
            "parameters": ["behaviour": "ok", "marker": workspace.exchange + "/shop"],
        ])
        #expect(created.status == 202, "\(created.text)")
        #expect(created.headers.first(name: "Location") == "/v1/runs/1")
        let setup = try await serve.waitForRun(try #require(created.runID))
        #expect(setup["status"] as? String == "succeeded", "\(setup)")

        let refused = try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "9.0"])
        #expect(refused.status == 422 && refused.error["field"] as? String == "target_version", "\(refused.text)")
        let badParameter = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "other", "driver": "testbed", "app_version": "1.0.0", "parameters": ["behaviour": "sometimes"],
        ])
        #expect(badParameter.status == 422 && badParameter.error["field"] as? String == "parameters.behaviour", "\(badParameter.text)")

        var upgrades: [Int] = []
        for version in ["1.1.0", "1.2.0", "1.3.0"] {
            let upgrade = try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": version])
            #expect(upgrade.status == 202, "\(upgrade.text)")
            upgrades.append(try #require(upgrade.runID))
        }
        for id in upgrades { #expect(try await serve.waitForRun(id)["status"] as? String == "succeeded") }
        let shown = try await serve.request(.GET, "/v1/deployments/shop").object
        #expect(shown["app_version"] as? String == "1.3.0", "\(shown)")

        let first = try await serve.request(.GET, "/v1/runs?deployment=shop&limit=2").object
        let firstPage = (first["runs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
        #expect(firstPage == [4, 3])
        let next = try #require(first["next_before"] as? Int)
        let second = try await serve.request(.GET, "/v1/runs?deployment=shop&limit=2&before=\(next)").object
        #expect((second["runs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int } == [2, 1])
        #expect(second["next_before"] is NSNull)
        #expect(try await serve.request(.GET, "/v1/runs?deployment=nobody").status == 404)

        let metrics = try await serve.request(.GET, "/metrics")
        #expect(metrics.status == 200 && metrics.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
        for expected in [
            "flowrunner_runs_finished_total{hook=\"upgrade\",status=\"succeeded\"} 3",
            "flowrunner_runs_finished_total{hook=\"setup\",status=\"succeeded\"} 1",
            "flowrunner_queue_depth 0", "flowrunner_workers_busy 0", "flowrunner_step_duration_seconds_bucket{",
        ] {
            #expect(metrics.text.contains(expected), "/metrics lacks \(expected):\n\(metrics.text)")
        }
    }

    @Test("Idempotency-Key: the same key and body give the same run; another body 422; nothing doubles")
    func idempotency() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let body: [String: Any] = ["name": "shop", "driver": "testbed", "app_version": "1.0.0"]
        let first = try await serve.request(.POST, "/v1/deployments", json: body, headers: ["Idempotency-Key": "create-shop"])
        let again = try await serve.request(.POST, "/v1/deployments", json: body, headers: ["Idempotency-Key": "create-shop"])
        #expect(first.status == 202 && again.status == 202, "\(first.text) \(again.text)")
        #expect(first.runID != nil && first.runID == again.runID)
        let withoutKey = try await serve.request(.POST, "/v1/deployments", json: body)
        #expect(withoutKey.status == 409, "the deployment exists: \(withoutKey.text)")
        _ = try await serve.waitForRun(try #require(first.runID))

        let path = "/v1/deployments/shop/hooks/upgrade"
        let upgrade = try await serve.request(.POST, path, json: ["target_version": "1.1.0"], headers: ["Idempotency-Key": "k1"])
        let repeated = try await serve.request(.POST, path, json: ["target_version": "1.1.0"], headers: ["Idempotency-Key": "k1"])
        #expect(upgrade.status == 202 && upgrade.runID == repeated.runID, "\(upgrade.text) \(repeated.text)")
        // The same request with its members in another order and other spacing is the same request.
        let reordered = try await serve.rawRequest("POST", path, body: "{ \"driver_version\": null,\n \"target_version\": \"1.1.5\" }",
                                                   headers: ["Idempotency-Key": "k2"])
        let sameAgain = try await serve.rawRequest("POST", path, body: "{\"target_version\":\"1.1.5\",\"driver_version\":null}",
                                                   headers: ["Idempotency-Key": "k2"])
        #expect(reordered.status == 202 && reordered.runID == sameAgain.runID, "\(reordered.text) \(sameAgain.text)")
        let other = try await serve.request(.POST, path, json: ["target_version": "1.2.0"], headers: ["Idempotency-Key": "k1"])
        #expect(other.status == 422 && other.error["field"] as? String == "Idempotency-Key", "\(other.text)")
        // Many at once with one key: one run, every answer names it (or 409 while the first is handled).
        let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
            for _ in 0..<20 {
                group.addTask { try await serve.request(.POST, path, json: ["target_version": "1.3.0"], headers: ["Idempotency-Key": "burst"]) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let ids = Set(answers.filter { $0.status == 202 }.compactMap(\.runID))
        #expect(ids.count == 1, "\(answers.map(\.text))")
        #expect(answers.allSatisfy { $0.status == 202 || $0.status == 409 }, "\(answers.map(\.status))")
        let runs = try await serve.request(.GET, "/v1/runs?deployment=shop&limit=100").object["runs"] as? [Any]
        #expect(runs?.count == 4, "setup, k1, k2 and burst: \(runs ?? [])")
    }

    @Test("component inputs over HTTP: POST /v1/deployments takes env, command and args; PATCH changes them; what the driver does not declare is 422")
    func componentInputs() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": RenderTests.myApp])
        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "shop", "driver": "my-app", "app_version": "0.1.0", "args": ["server": ["--a"]], "env": ["server": ["LOG_LEVEL": "debug", "WORKERS": 2]],
        ])
        #expect(created.status == 202, "\(created.text)")
        _ = try await serve.waitForRun(try #require(created.runID))
        let shown = try await serve.request(.GET, "/v1/deployments/shop").object["components"] as? [String: Any]
        let server = shown?["server"] as? [String: Any]
        #expect(server?["args"] as? [String] == ["--a"] && (server?["env"] as? [String: String]) == ["LOG_LEVEL": "debug", "WORKERS": "2"], "\(shown ?? [:])")

        let patched = try await serve.request(.PATCH, "/v1/deployments/shop", json: ["args": ["server": NSNull()], "command": ["server": ["run"]]])
        #expect(patched.status == 200, "\(patched.text)")
        let now = (patched.object["components"] as? [String: Any])?["server"] as? [String: Any]
        #expect(now?["args"] == nil && now?["command"] as? [String] == ["run"], "\(patched.text)")

        let refused = try await serve.request(.PATCH, "/v1/deployments/shop", json: ["command": ["database": ["x"]]])
        #expect(refused.status == 422 && refused.error["field"] as? String == "command", "\(refused.text)")
        let badShape = try await serve.request(.PATCH, "/v1/deployments/shop", json: ["args": ["server": "--x"]])
        #expect(badShape.status == 400 && badShape.error["field"] as? String == "args.server", "\(badShape.text)")
        let parameters = try await serve.request(.PATCH, "/v1/deployments/shop", json: ["parameters": ["storage_size": 20]])
        #expect(parameters.status == 422 && parameters.error["field"] as? String == "parameters", "\(parameters.text)")
        #expect(try await serve.request(.PATCH, "/v1/deployments/ghost", json: ["args": [:] as [String: Any]]).status == 404)

        // The server's renderer applies the values: the setup's release, then an upgrade's with the patched inputs.
        let removed = try await serve.request(.PATCH, "/v1/deployments/shop", json: ["env": ["server": ["WORKERS": NSNull()]]])
        #expect((((removed.object["components"] as? [String: Any])?["server"] as? [String: Any])?["env"] as? [String: String]) == ["LOG_LEVEL": "debug"],
                "null removes an env value: \(removed.text)")
        let upgrade = try await serve.request(.POST, "/v1/deployments/shop/hooks/upgrade", json: ["target_version": "0.2.0"])
        #expect(upgrade.status == 202, "\(upgrade.text)")
        _ = try await serve.waitForRun(try #require(upgrade.runID))
        let cluster = try await serve.request(.GET, "/v1/deployments/shop").object["cluster"] as? [String: Any]
        let releases = cluster?["releases"] as? [[String: Any]] ?? []
        let values = releases.map { $0["values"] as? [String: Any] ?? [:] }
        #expect(values.map { ($0["image"] as? [String: Any])?["tag"] as? String } == ["0.1.0", "0.2.0"], "\(releases)")
        #expect(values.last?["command"] as? [String] == ["run"] && values.last?["args"] as? [String] == [], "\(values.last ?? [:])")
        #expect((values.last?["extraEnv"] as? [[String: Any]])?.map { $0["name"] as? String } == ["LOG_LEVEL"], "\(values.last ?? [:])")
    }
    @Test("clusters over HTTP: the embedded one listed, a Kubernetes cluster registered from a kubeconfig on the server, bad ones refused by field")
    func clusters() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let kubeconfig = workspace.directory + "/kubeconfig.yml"
        try """
            apiVersion: v1
            kind: Config
            current-context: admin
            clusters: [{name: lab, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: robot, user: {token: abc}}]
            contexts: [{name: admin, context: {cluster: lab, user: robot}}]

            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let listed = try await serve.request(.GET, "/v1/clusters")
        #expect((listed.object["clusters"] as? [[String: Any]])?.map { $0["name"] as? String } == ["simulated"], "\(listed.text)")
        let created = try await serve.request(.POST, "/v1/clusters", json: [
            "name": "lab", "kubernetes": ["kubeconfig": kubeconfig], "config": ["fqdn_suffix": "apps.lab.test"],
        ])
        #expect(created.status == 201 && created.object["context"] as? String == "admin" && created.object["kind"] as? String == "kubernetes",
                "\(created.text)")
        #expect(!created.text.contains("abc"), "no credential is shown")
        for (body, status, field) in [
            (["name": "lab", "kubernetes": ["kubeconfig": kubeconfig]] as [String: Any], 409, "name"),
            (["name": "rel", "kubernetes": ["kubeconfig": "kubeconfig.yml"]], 400, "kubernetes.kubeconfig"),
            (["name": "gone", "kubernetes": ["kubeconfig": workspace.directory + "/missing"]], 422, "kubeconfig"),
            (["name": "pod", "kubernetes": ["in_cluster": true]], 422, "in_cluster"),
            (["name": "x", "kubernetes": ["kubeconfig": kubeconfig, "token": "t"]], 400, "kubernetes.token"),
            (["name": "Bad_Name", "kubernetes": ["kubeconfig": kubeconfig]], 400, "name"),
            (["name": "cfg", "kubernetes": ["kubeconfig": kubeconfig], "config": ["a": ["b"]]], 400, "config.a"),
            (["name": "none"], 400, "kubernetes"),
        ] {
            let refused = try await serve.request(.POST, "/v1/clusters", json: body)
            #expect(refused.status == status && refused.error["field"] as? String == field, "\(body): \(refused.status) \(refused.text)")
        }
        let after = try await serve.request(.GET, "/v1/clusters")
        #expect((after.object["clusters"] as? [[String: Any]])?.map { $0["name"] as? String } == ["simulated", "lab"], "\(after.text)")
    }
}
