import HTTPTypes
import Hummingbird

/// Keeps other web sites' pages from using a browser to change anything
/// through the API (the page's own forms carry CSRF tokens):
/// - a state-changing API request (not GET or HEAD) that a browser marks as
///   coming from another site (`Sec-Fetch-Site`, or an `Origin` other than
///   this server's) is refused with 403;
/// - one whose body is of a type a cross-site form may send without asking
///   (`application/x-www-form-urlencoded`, `multipart/form-data`,
///   `text/plain`) is refused with 415;
/// - without a token (a loopback bind), a request whose `Host` is not a
///   loopback name is refused with 403, so a DNS name that rebinds to
///   127.0.0.1 cannot reach the server from a browser.
struct CrossSiteMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Whether the server has a token (then any Host may reach it).
    let hasToken: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !hasToken, let host = request.head.authority, !Self.isLoopback(host: host) {
            throw APIError(.forbidden, code: "forbidden", "this server answers only loopback names (Host \(host)); give serve a token to be reached by another name")
        }
        guard request.method != .get, request.method != .head, BearerTokenMiddleware<Context>.isAPI(request.uri.path) else {
            return try await next(request, context)
        }
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            throw APIError(.forbidden, code: "forbidden", "a request from another site (Sec-Fetch-Site: \(site)) cannot change anything")
        }
        if let origin = request.headers[HTTPField.Name("Origin")!], let host = request.head.authority,
           origin != "http://\(host)", origin != "https://\(host)" {
            throw APIError(.forbidden, code: "forbidden", "a request from another origin (\(origin)) cannot change anything")
        }
        if let type = JSONBody.mediaType(of: request), ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"].contains(type) {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "the API takes JSON (Content-Type: application/json), and driver directories as tar archives "
                           + "(application/gzip, application/x-tar or application/octet-stream), not \(type)", field: "Content-Type")
        }
        return try await next(request, context)
    }

    /// `localhost`, `127.x.y.z`, `[::1]`, with or without a port.
    static func isLoopback(host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") { return name.hasPrefix("[::1]") }
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
