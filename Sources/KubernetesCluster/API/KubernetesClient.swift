import AsyncHTTPClient
public import FlowModel
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A small client of the Kubernetes REST API (only the calls FlowRunner
/// makes), on one AsyncHTTPClient for the process with the cluster's TLS
/// settings per request: no event loop or connection exists until the first
/// request. Errors carry the API's `Status` (its `reason` and `code`).
///
/// `429 Too Many Requests` is retried after `Retry-After`, a `5xx` or a
/// dropped connection after 0.2, 0.4, 0.8 … s (at most ``maximumRetries``
/// times, waiting at most 30 s each), as client-go does.
public struct KubernetesClient: Sendable {
    /// What a request came to: the status and the body parsed as JSON.
    public struct Response: Sendable {
        public var status: Int
        public var body: JSONValue
    }

    /// A patch's content type (the Kubernetes API's three kinds).
    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
        case strategic = "application/strategic-merge-patch+json"
    }

    /// The process's HTTP client, made at the first request and never shut
    /// down. A connection that cannot be made (a refused port, a certificate
    /// the CA did not sign) fails its request at once instead of being
    /// retried until the request's deadline; waits retry by themselves.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: HTTPClient.Configuration.Timeout(connect: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// How many times a `429`, a `5xx` or a dropped connection is retried.
    public static let maximumRetries = 5
    /// The longest answer read (a list of pods, say).
    static let maximumBody = 64 << 20

    let access: KubernetesAccess
    let tls: TLSConfiguration
    /// The cluster's name, for messages.
    public let cluster: String
    /// How long one request may take.
    public var requestTimeout: Duration = .seconds(30)
    /// Counts every request sent (for `bench/`).
    let counter: RequestCounter?

    /// A client of the API server `access` describes; `cluster` names it in errors.
    ///
    /// - Throws: ``KubernetesError`` (code `configuration`) when the CA,
    ///   certificate or key is not PEM that the TLS library accepts.
    public init(access: KubernetesAccess, cluster: String, counter: RequestCounter? = nil) throws(KubernetesError) {
        self.access = access
        self.cluster = cluster
        self.counter = counter
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let authority = access.certificateAuthority {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(authority))
            }
            if let certificate = access.clientCertificate, let key = access.clientKey {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubernetesError(.configuration, "cluster \(cluster) (\(access.source)): the CA, client certificate or key is not usable PEM: \(error)")
        }
        if access.insecureSkipTLSVerify { tls.certificateVerification = .none }
        self.tls = tls
    }

    /// Sends one request and reads the whole answer as JSON.
    ///
    /// - Parameters:
    ///   - path: the API path (`/apis/apps/v1/namespaces/NS/deployments/NAME`), query items apart.
    ///   - body: a JSON body (a merge patch, an object to create).
    /// - Returns: the answer when its status is 2xx, or one of `accept` (such as 404 for "absent").
    /// - Throws: ``KubernetesError``: `transport` when the server cannot be
    ///   reached or the TLS handshake fails (naming the cluster), `status`
    ///   with the API's Status for any other status.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        contentType: String = "application/json", accept: Set<Int> = []
    ) async throws(KubernetesError) -> Response {
        let (status, bytes) = try await exchange(method, path, query: query, body: body, contentType: contentType, accept: accept)
        return Response(status: status, body: (try? JSONValue(jsonBytes: Array(buffer: bytes))) ?? .null)
    }

    /// The text of a GET (a pod's log): 2xx only.
    ///
    /// - Throws: as ``send(_:_:query:body:contentType:accept:)`` does.
    func sendText(_ path: String, query: [(String, String)] = []) async throws(KubernetesError) -> String {
        String(decoding: Array(buffer: try await exchange(.GET, path, query: query, body: nil, contentType: "application/json", accept: []).bytes),
               as: UTF8.self)
    }

    /// One request and its whole answer, retried as the type says; the
    /// status is 2xx or one of `accept`.
    func exchange(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: JSONValue?, contentType: String, accept: Set<Int>
    ) async throws(KubernetesError) -> (status: Int, bytes: ByteBuffer) {
        var attempt = 0
        while true {
            attempt += 1
            let request = try makeRequest(method, path, query: query, body: body, contentType: contentType)
            counter?.count(method: method.rawValue, path: path)
            let status: Int
            let headers: HTTPHeaders
            let bytes: ByteBuffer
            do {
                let response = try await Self.http.execute(request, timeout: Self.timeAmount(requestTimeout))
                status = Int(response.status.code)
                headers = response.headers
                bytes = try await response.body.collect(upTo: Self.maximumBody)
            } catch {
                let failure = KubernetesError(.transport, "cluster \(cluster): \(method.rawValue) \(path): \(Self.describe(error)) (\(access.source))")
                // A connection cut or refused may be a restarting API server; a certificate the CA did not sign is not.
                guard Self.isRetryable(error), attempt <= Self.maximumRetries else { throw failure }
                try await Self.pause(.milliseconds(200 << (attempt - 1)), or: failure)
                continue
            }
            if (200..<300).contains(status) || accept.contains(status) { return (status, bytes) }
            let failure = Self.statusError(status: status, body: (try? JSONValue(jsonBytes: Array(buffer: bytes))) ?? .null, headers: headers,
                                           what: "\(method.rawValue) \(path)", cluster: cluster)
            // Every request FlowRunner sends can be sent again (absolute patches, a create that answers 409,
            // a delete that accepts 404): a throttle or a server error is retried a few times, and
            // a 409 Conflict on a patch (another writer got in between) is re-sent: the patch says only what it sets.
            let retryable = status == 429 || [500, 502, 503, 504].contains(status) || (status == 409 && method == .PATCH)
            guard retryable, attempt <= Self.maximumRetries else { throw failure }
            try await Self.pause(.milliseconds(Int(min(failure.retryAfter ?? (0.2 * Double(1 << (attempt - 1))), 30) * 1000)), or: failure)
        }
    }

    /// Waits before a retry; a cancelled task ends with `failure` instead.
    static func pause(_ duration: Duration, or failure: KubernetesError) async throws(KubernetesError) {
        do {
            try await Task.sleep(for: duration)
        } catch {
            throw failure
        }
    }

    /// A streamed answer (a watch, a followed log): the status and the body's chunks.
    ///
    /// - Throws: as ``send(_:_:query:body:contentType:accept:)`` does, for a non-2xx answer.
    func stream(_ path: String, query: [(String, String)], timeout: Duration) async throws(KubernetesError) -> HTTPClientResponse.Body {
        let request = try makeRequest(.GET, path, query: query, body: nil, contentType: "application/json")
        counter?.count(method: "GET", path: path)
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: Self.timeAmount(timeout))
        } catch {
            throw KubernetesError(.transport, "cluster \(cluster): GET \(path): \(Self.describe(error)) (\(access.source))")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            throw Self.statusError(status: Int(response.status.code), body: (try? JSONValue(jsonBytes: Array(buffer: bytes))) ?? .null,
                                   headers: response.headers, what: "GET \(path)", cluster: cluster)
        }
        return response.body
    }

    func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: JSONValue?, contentType: String) throws(KubernetesError) -> HTTPClientRequest {
        var components = URLComponents()
        components.path = path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        let base = access.server.hasSuffix("/") ? String(access.server.dropLast()) : access.server
        var request = HTTPClientRequest(url: base + (components.percentEncodedPath) + (components.percentEncodedQuery.map { "?" + $0 } ?? ""))
        request.method = method
        request.tlsConfiguration = tls
        request.headers.add(name: "accept", value: "application/json")
        request.headers.add(name: "user-agent", value: "flowrunner")
        if let token = try access.token.current() { request.headers.add(name: "authorization", value: "Bearer " + token) }
        if let body {
            request.headers.add(name: "content-type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        }
        return request
    }

    /// The error of a non-2xx answer: the Status's message and reason when the body is one.
    static func statusError(status: Int, body: JSONValue, headers: HTTPHeaders, what: String, cluster: String) -> KubernetesError {
        let reason = body["reason"]?.stringValue
        let message = body["message"]?.stringValue ?? HTTPResponseStatus(statusCode: status).reasonPhrase
        var retryAfter = headers.first(name: "retry-after").flatMap(Double.init)
        if retryAfter == nil, case .int(let seconds)? = body["details"]?["retryAfterSeconds"] { retryAfter = Double(seconds) }
        let hint: String = switch status {
        case 401: " (the cluster refused the credentials: check the token or client certificate of its kubeconfig context)"
        case 403: " (the credentials lack the permission)"
        default: ""
        }
        return KubernetesError(.status, "cluster \(cluster): \(what): \(status) \(reason ?? ""): \(message)\(hint)",
                               httpStatus: status, reason: reason, retryAfter: retryAfter)
    }

    /// Whether a failed request may succeed when sent again: not a TLS failure.
    static func isRetryable(_ error: any Error) -> Bool {
        !(error is NIOSSLError || error is BoringSSLError || "\(error)".contains("CERTIFICATE_VERIFY_FAILED"))
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS failed: the server's certificate is not signed by the CA the kubeconfig names (certificate-authority)"
        }
        if error is NIOSSLError || error is BoringSSLError { return "TLS failed: \(text)" }
        if let client = error as? HTTPClientError {
            // Its text would repeat the header values, the bearer token among them.
            if "\(client)".contains("invalidHeaderField") { return "a request header is not allowed (is the token valid?)" }
            if client == .deadlineExceeded || client == .readTimeout { return "no answer in time" }
            if client == .remoteConnectionClosed { return "the connection was closed" }
            return "\(client)"
        }
        return "\(error)"
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + Int64(duration.components.attoseconds / 1_000_000_000))
    }
}
