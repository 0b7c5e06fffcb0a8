public import FlowModel
import Foundation
public import Hummingbird
import NIOCore

/// JSON bodies in and out.
public enum JSONResponse {
    /// A response with `value` as its JSON body (`application/json`).
    public static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = value.jsonBytes
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A request's JSON body, read up to the context's upload limit, with typed
/// access to its members that fails with the member's name.
struct JSONBody: Sendable {
    /// The parsed body (an object).
    let value: JSONValue

    /// The body as canonical JSON (keys sorted, no insignificant space):
    /// what an Idempotency-Key's request digest covers, so two clients that
    /// order members differently send the same request.
    var canonicalBytes: [UInt8] { Array(value.jsonBytes) }

    /// Reads and parses the body. An empty body reads as `{}`, whatever
    /// Content-Type came with it (`curl -X POST -d ''` sends a form type).
    ///
    /// - Throws: ``APIError`` 415 when a body comes with a Content-Type
    ///   other than `application/json` (or `application/*+json`), 413 past
    ///   `limit` bytes, 400 when the body is not JSON or not an object.
    static func read(_ request: Request, limit: Int) async throws -> JSONBody {
        let bytes = Array(try await collect(request, limit: limit, what: "the request body").readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return JSONBody(value: .object([:]))
        }
        if let media = mediaType(of: request), !isJSON(media), let type = request.headers[.contentType] {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                           "the request body must be JSON (Content-Type: application/json), found Content-Type \(type)", field: "Content-Type")
        }
        let value: JSONValue
        do {
            value = try JSONValue(jsonBytes: bytes)
        } catch {
            throw APIError.badRequest("the request body is not JSON: \(error.reason)")
        }
        guard case .object = value else {
            throw APIError.badRequest("the request body must be a JSON object, found \(value.typeName)")
        }
        return JSONBody(value: value)
    }

    /// The request's media type (Content-Type without parameters, lower case), if it sent one.
    static func mediaType(of request: Request) -> String? {
        request.headers[.contentType].map { type in
            type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
    }

    /// Whether `media` is JSON: `application/json` or `application/*+json`.
    static func isJSON(_ media: String) -> Bool {
        media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }

    /// The whole body, up to `limit` bytes.
    ///
    /// - Throws: ``APIError`` 413 past `limit`, the message naming `what` was sent.
    static func collect(_ request: Request, limit: Int, what: String, hint: String = "") async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", "\(what) is larger than \(limit) bytes\(hint)")
        }
    }

    /// Refuses members the route does not know, naming the first (and the known ones).
    func allowOnly(_ names: Set<String>) throws(APIError) {
        for key in (value.objectValue ?? [:]).keys.sorted() where !names.contains(key) {
            throw APIError.badRequest("unknown member \"\(key)\" ("
                + (names.isEmpty ? "this request takes none" : "known: " + names.sorted().joined(separator: ", ")) + ")", field: key)
        }
    }

    /// A required string member.
    func string(_ name: String) throws(APIError) -> String {
        guard let member = value[name], !member.isNull else { throw APIError.badRequest("\"\(name)\" is required", field: name) }
        guard let text = member.stringValue else { throw APIError.badRequest("\"\(name)\" must be a string, found \(member.typeName)", field: name) }
        return text
    }

    /// An optional string member.
    func optionalString(_ name: String) throws(APIError) -> String? {
        guard let member = value[name], !member.isNull else { return nil }
        return try string(name)
    }

    /// An optional integer member within `range`.
    func optionalInt(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let member = value[name], !member.isNull else { return nil }
        guard let number = member.intValue, range.contains(number) else {
            throw APIError.badRequest("\"\(name)\" must be an integer from \(range.lowerBound) to \(range.upperBound), found \(member.description)", field: name)
        }
        return number
    }

    /// An optional boolean member.
    func optionalBool(_ name: String) throws(APIError) -> Bool? {
        guard let member = value[name], !member.isNull else { return nil }
        guard let flag = member.boolValue else { throw APIError.badRequest("\"\(name)\" must be true or false, found \(member.typeName)", field: name) }
        return flag
    }

    /// An optional object member.
    func optionalObject(_ name: String) throws(APIError) -> [String: JSONValue] {
        guard let member = value[name], !member.isNull else { return [:] }
        guard let object = member.objectValue else { throw APIError.badRequest("\"\(name)\" must be an object, found \(member.typeName)", field: name) }
        return object
    }
}
