import Hummingbird
import NIOCore

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route
/// (``OpenAPIDocument``).
struct OpenAPIRoutes: Sendable {
    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/openapi.json") { _, _ in
            let bytes = Array(OpenAPIDocument.text.utf8)
            let headers: HTTPFields = [.contentType: "application/json", .contentLength: String(bytes.count)]
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
