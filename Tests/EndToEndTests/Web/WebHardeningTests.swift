import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// What a reviewer attacking the web page found, kept fixed: the API behind
/// slashes, a form that crashed the server, an open redirect, errors shown
/// on steps that did not fail, cross-site requests to the API, a followed search.
@Suite("Operator web page: attacks that must fail")
struct WebHardeningTests {
    /// A request with the path exactly as given (no normalisation), and `headers`.
    static func raw(_ serve: ServeProcess, _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: serve.baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    @Test("with a token, the API and metrics need it whatever slashes surround the path")
    func apiBehindSlashes() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, token: WebPageTests.token)
        for path in ["//v1/runs", "/v1/runs/", "//v1//runs", "/metrics/", "//metrics", "/V1/runs"] {
            let (status, _) = try await Self.raw(serve, .GET, path)
            #expect(status == 401 || status == 404, "\(path): \(status)")
            #expect(status != 200, "\(path) answered without the token")
        }
        let (created, _) = try await Self.raw(serve, .POST, "//v1/deployments", body: #"{"name":"x","driver":"d","app_version":"1"}"#,
                                              headers: ["Content-Type": "application/json"])
        #expect(created == 401, "a write behind // needs the token: \(created)")
    }

    @Test("a malformed form is a 400 page, and the server goes on; a login never leads to another host")
    func malformedFormsAndRedirects() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, token: WebPageTests.token)
        for body in ["token=%zz", "token=%", "a=%C3%28", "token=x {\"}"] {
            let (status, html) = try await Self.raw(serve, .POST, "/login", body: body, headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(status == 400 || status == 401, "\(body): \(status) \(html)")
        }
        #expect(try await serve.request(.GET, "/healthz").status == 200, "the server is still up")
        let web = WebClient(base: serve.baseURL)
        _ = try await web.post("/login", form: ["token": WebPageTests.token, "next": "/"])
        // As a link would carry them: %09 is a tab (browsers drop it, leaving //host), %5C a backslash.
        for next in ["/%09/example.com", "/%0A/example.com", "/%5Cexample.com", "%2F%2Fexample.com", "https%3A%2F%2Fexample.com"] {
            let page = try await web.get("/login?next=" + next)
            #expect(page.location == "/", "\(next): \(page.location ?? "none")")
        }
    }

    @Test("a failed run's error and traceback are shown once, not on the steps and actions that did not fail")
    func errorsWhereTheyBelong() async throws {
        let workspace = Workspace()
        let (serve, web, _) = try await WebPageTests.failedUpgrade(workspace)
        let page = try await web.get("/runs/2")
        #expect(page.status == 200, "served by \(serve.baseURL)")
        #expect(!page.html.contains("[\"traceback\""), "no dictionary dumps")
        #expect(page.html.components(separatedBy: "Python traceback").count == 2, "one traceback, the run's")
        let searched = try await web.get("/runs/2?q=behaviour")
        #expect(searched.html.contains("data-live=\"false\""), "a search is not followed live")
        withExtendedLifetime(serve) {}
    }

    @Test("browsers of other sites cannot change anything through the API; a rebound name cannot reach a server without a token")
    func crossSite() async throws {
        let workspace = Workspace()
        try await workspace.deployTestbed("tb", behaviour: "ok")
        let serve = try await ServeProcess(workspace)
        let (origin, _) = try await Self.raw(serve, .POST, "/v1/runs/1/cancel", headers: ["Origin": "http://evil.example"])
        #expect(origin == 403)
        let (fetchSite, _) = try await Self.raw(serve, .POST, "/v1/runs/1/cancel", headers: ["Sec-Fetch-Site": "cross-site"])
        #expect(fetchSite == 403)
        for type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
            let (status, _) = try await Self.raw(serve, .POST, "/v1/runs/1/cancel", body: "a=b", headers: ["Content-Type": type])
            #expect(status == 415, "\(type): \(status)")
        }
        let (rebound, _) = try await Self.raw(serve, .GET, "/v1/runs", headers: ["Host": "attacker.example:80"])
        #expect(rebound == 403)
        let (sameOrigin, _) = try await Self.raw(serve, .GET, "/v1/runs", headers: ["Origin": serve.baseURL])
        #expect(sameOrigin == 200)
        #expect(try await serve.request(.POST, "/v1/runs/1/retry", json: [:] as [String: Any]).status == 409, "the API itself still works")
    }
}
