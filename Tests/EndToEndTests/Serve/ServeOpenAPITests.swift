import Foundation
import Testing

/// `GET /v1/openapi.json` against the server it describes.
@Suite("Runner service: the OpenAPI document")
struct ServeOpenAPITests {
    @Test("the document is OpenAPI 3.1 JSON, every operation it lists is a route of the server, and every error it names has the error shape")
    func everyOperationExists() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, token: ServeAPITests.token)
        let answer = try await serve.request(.GET, "/v1/openapi.json")
        #expect(answer.status == 200)
        let document = answer.object
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations = 0
        for (path, item) in paths {
            let concrete = path.replacingOccurrences(of: "{name}", with: "nobody").replacingOccurrences(of: "{id}", with: "424242")
                .replacingOccurrences(of: "{hook}", with: "upgrade")
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                operations += 1
                let response = try await serve.request(.init(rawValue: method.uppercased()), concrete,
                                                       json: method == "post" ? [:] as [String: Any] : nil)
                #expect(!response.text.contains("no route"), "\(method.uppercased()) \(path) is in the document but not a route: \(response.text)")
                #expect(response.status < 500, "\(method.uppercased()) \(path): \(response.status) \(response.text)")
                if response.status >= 400 { #expect(response.error["code"] is String, "\(path): \(response.text)") }
            }
        }
        #expect(operations >= 14, "every route of the service is described (\(operations) operations)")
        // The document stands without the token only where it says so.
        #expect(try await serve.request(.GET, "/v1/openapi.json", token: .some(nil)).status == 401)
    }

    @Test("the document validates, and openapi-python-client (from PyPI) generates a client from it without edits that drives the server",
          .timeLimit(.minutes(15)))
    func generatedClient() async throws {
        let workspace = Workspace()
        let venv = workspace.directory + "/venv"
        let python = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_PYTHON"] ?? "python3"
        try await shell(["/usr/bin/env", python, "-m", "venv", venv])
        try await shell([venv + "/bin/pip", "install", "--quiet", "--disable-pip-version-check",
                         "openapi-python-client>=0.29,<0.30", "openapi-spec-validator>=0.7,<1"])
        let serve = try await ServeProcess(workspace, token: ServeAPITests.token)
        let document = workspace.directory + "/openapi.json"
        try await serve.request(.GET, "/v1/openapi.json").text.write(toFile: document, atomically: true, encoding: .utf8)
        let validated = try await shell([venv + "/bin/openapi-spec-validator", document], allowFailure: true)
        #expect(validated.status == 0 && validated.text.contains("OK"), "\(validated.text)")

        // No post hooks: the generated code is used exactly as generated (no formatter in between).
        let config = workspace.directory + "/generator.yml"
        try "post_hooks: []\n".write(toFile: config, atomically: true, encoding: .utf8)
        let client = workspace.directory + "/client"
        try FileManager.default.createDirectory(atPath: client, withIntermediateDirectories: true)
        let generated = try await shell([venv + "/bin/openapi-python-client", "generate", "--path", document, "--meta", "none", "--config", config],
                                        allowFailure: true, in: client)
        #expect(generated.status == 0, "\(generated.text)")
        #expect(!generated.text.contains("Warning") && !generated.text.contains("Unsupported"), "every route and body generated: \(generated.text)")

        let archive = workspace.directory + "/testbed.tgz"
        try await shell(["/usr/bin/env", "tar", "czf", archive, "-C", testbed, "."])
        let used = try await shell([venv + "/bin/python", FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/openapi_client_check.py",
                                    serve.baseURL, ServeAPITests.token, client, archive], allowFailure: true)
        #expect(used.status == 0 && used.text.contains("ok"), "\(used.text.suffix(4_000))")
    }

    @Test("schemathesis (from PyPI, in a venv this test makes) generates requests from the document: no 5xx", .timeLimit(.minutes(15)))
    func propertyBased() async throws {
        let workspace = Workspace()
        let venv = workspace.directory + "/venv"
        let python = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_PYTHON"] ?? "python3"
        try await shell(["/usr/bin/env", python, "-m", "venv", venv])
        try await shell([venv + "/bin/pip", "install", "--quiet", "--disable-pip-version-check", "schemathesis>=4,<5"])
        let serve = try await ServeProcess(workspace, token: ServeAPITests.token)
        _ = try await serve.request(.POST, "/v1/drivers", json: ["path": testbed])
        let created = try await serve.request(.POST, "/v1/deployments", json: ["name": "shop", "driver": "testbed", "app_version": "1.0.0"])
        _ = try await serve.waitForRun(try #require(created.runID))
        let output = try await shell([
            venv + "/bin/schemathesis", "run", serve.baseURL + "/v1/openapi.json",
            "--header", "Authorization: Bearer \(ServeAPITests.token)",
            "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "1",
        ], allowFailure: true, in: workspace.directory)
        #expect(output.status == 0, "schemathesis found failures:\n\(output.text.suffix(6_000))")
        #expect(output.text.contains("passed"), "\(output.text.suffix(2_000))")
        #expect(!serve.log.contains("Fatal error"), "\(serve.log.suffix(2_000))")
    }
}
