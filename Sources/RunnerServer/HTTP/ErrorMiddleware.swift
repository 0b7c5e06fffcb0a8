import FlowRunner
import Hummingbird
import Logging

/// Gives every failure the API's one error shape: an ``APIError`` as it is,
/// an ``EngineError`` mapped (``APIError/init(_:requestID:)``), Hummingbird's
/// own errors (no such route, body too large) with their status, anything
/// else a 500 that names only the request id. The details of a 500 go to
/// the log with the request id, never to the client.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as EngineError {
            if error.code == .failed {
                context.logger.error("request failed", metadata: ["error": "\(error.message)"])
            }
            throw APIError(error, requestID: context.id)
        } catch let error as HTTPError where error.status == .notFound && AllowedMethods.methods(for: request.uri.path) != nil {
            let allowed = AllowedMethods.methods(for: request.uri.path) ?? []
            var refusal = APIError(.methodNotAllowed, code: "method_not_allowed",
                                   "\(request.method.rawValue) is not allowed on \(request.uri.path) (allowed: \(allowed.joined(separator: ", ")))")
            refusal.headers[.allow] = allowed.joined(separator: ", ")
            throw refusal
        } catch let error as HTTPError {
            let code = switch error.status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "payload_too_large"
            case 400..<500: "bad_request"
            default: "internal"
            }
            let message = error.status.code == 404
                ? "no route \(request.method.rawValue) \(request.uri.path)"
                : (error.body ?? error.status.reasonPhrase)
            throw APIError(error.status, code: code, message)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            throw APIError.internal(requestID: context.id)
        }
    }
}
