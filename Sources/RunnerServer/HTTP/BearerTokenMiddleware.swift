import Foundation
import Crypto
import Hummingbird

/// Requires `Authorization: Bearer TOKEN` (RFC 6750) on every route except
/// `/healthz` when a token is configured. Tokens are compared as SHA-256
/// digests (swift-crypto), byte by byte in constant time, so neither the
/// token's length nor a matching prefix shows in the answer's timing; the
/// token is never logged and never echoed.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    /// SHA-256 of the configured token (32 bytes).
    let expected: [UInt8]
    /// Paths open without a token (health checks of load balancers and probes).
    let openPaths: Set<String>

    /// The web page's sessions: the page's own routes check them (everything
    /// outside `/v1/` and `/metrics`), and a live session may also read the
    /// API (GET and HEAD only: a cookie never authorises a change, so no
    /// other site can make a browser change anything).
    let sessions: WebSessions?

    init(token: String, openPaths: Set<String> = ["/healthz"], sessions: WebSessions? = nil) {
        expected = Array(SHA256.hash(data: Array(token.utf8)))
        self.openPaths = openPaths
        self.sessions = sessions
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if openPaths.contains(path) { return try await next(request, context) }
        if let sessions {
            // Decided on the path as the router reads it (empty segments dropped: `//v1/runs/` is `/v1/runs`).
            if !Self.isAPI(path) { return try await next(request, context) }
            if request.method == .get || request.method == .head, request.headers[.authorization] == nil, sessions.session(of: request) != nil {
                return try await next(request, context)
            }
        }
        guard let header = request.headers[.authorization] else {
            throw Self.unauthorized("this server needs a bearer token: send Authorization: Bearer TOKEN")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Self.unauthorized("the Authorization header must be \"Bearer TOKEN\"")
        }
        let given = Array(SHA256.hash(data: Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)))
        guard Self.constantTimeEqual(given, expected) else { throw Self.unauthorized("the bearer token is not this server's") }
        return try await next(request, context)
    }

    /// Whether `path` routes to the API or the metrics (its first non-empty
    /// segment is `v1` or `metrics`, whatever slashes surround it), rather
    /// than to the web page, which checks its session itself.
    static func isAPI(_ path: String) -> Bool {
        let first = path.split(separator: "/", omittingEmptySubsequences: true).first.map { $0.lowercased() }
        return first == "v1" || first == "metrics"
    }

    /// Equality of two digests that reads every byte whatever differs.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(.unauthorized, code: "unauthorized", message)
        error.headers[.wwwAuthenticate] = "Bearer realm=\"flowrunner\""
        return error
    }
}
