public import FlowModel
public import FlowRunner
public import Hummingbird

/// An error answered in the API's one shape (DESIGN.md, "Runner service"):
/// `{"error": {"code", "message", "field"?}}` with the status that fits it:
/// 400 bad input, 401 no or wrong token, 404 unknown, 409 conflict (an
/// illegal transition, the same Idempotency-Key still in flight), 413 body
/// too large, 422 refused (a version outside `supported_versions`, a
/// parameter's kind, an Idempotency-Key reused for another body), 500 the
/// server failed (its message says only that, with the request id; the
/// details go to the server's log, never to the client).
public struct APIError: HTTPResponseError, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable word for programs: `bad_request`, `unauthorized`, `not_found`,
    /// `conflict`, `payload_too_large`, `unprocessable`, `internal`.
    public var code: String
    /// What is wrong, for people.
    public var message: String
    /// The request field at fault (`target_version`, `parameters.NAME`), when one is.
    public var field: String?
    /// Extra headers (`WWW-Authenticate` on 401).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: "bad_request", message, field: field)
    }

    public static func notFound(_ message: String, field: String? = nil) -> APIError {
        APIError(.notFound, code: "not_found", message, field: field)
    }

    public static func conflict(_ message: String, field: String? = nil) -> APIError {
        APIError(.conflict, code: "conflict", message, field: field)
    }

    public static func unprocessable(_ message: String, field: String? = nil) -> APIError {
        APIError(.unprocessableContent, code: "unprocessable", message, field: field)
    }

    /// The API's view of an engine error. `failed` becomes a 500 whose
    /// message names only the request id (the engine's message may hold
    /// file paths).
    public init(_ error: EngineError, requestID: String) {
        switch error.code {
        case .badInput: self = .badRequest(error.message, field: error.field)
        case .refused: self = .unprocessable(error.message, field: error.field)
        case .notFound: self = .notFound(error.message, field: error.field)
        case .conflict: self = .conflict(error.message, field: error.field)
        default: self = .internal(requestID: requestID)
        }
    }

    /// A failure of the server itself, without its details.
    public static func `internal`(requestID: String) -> APIError {
        APIError(.internalServerError, code: "internal", "the server failed to handle the request (request \(requestID)); its log has the details")
    }

    /// The error body.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { members["field"] = .string(field) }
        return ["error": .object(members)]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(json, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}
