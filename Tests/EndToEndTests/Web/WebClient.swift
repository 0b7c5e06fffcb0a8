import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A browser-like HTTP client for the operator web page: keeps the session
/// cookie, does not follow redirects (tests look at them), posts forms.
final class WebClient: Sendable {
    let base: String
    private let cookie = Mutex<String?>(nil)
    private static let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                           configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    init(base: String) {
        self.base = base
    }

    struct Page {
        var status: Int
        var headers: HTTPHeaders
        var html: String
        var location: String? { headers.first(name: "Location") }

        /// The value of the first `name="NAME" value="..."` hidden input (the CSRF token, say).
        func hidden(_ name: String) -> String? {
            guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return html[range.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
        }
    }

    func get(_ path: String) async throws -> Page {
        try await send(.GET, path, form: nil)
    }

    /// Posts `form` as `application/x-www-form-urlencoded`.
    func post(_ path: String, form: [String: String]) async throws -> Page {
        try await send(.POST, path, form: form)
    }

    private func send(_ method: HTTPMethod, _ path: String, form: [String: String]?) async throws -> Page {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let cookie = cookie.withLock({ $0 }) { request.headers.add(name: "Cookie", value: cookie) }
        if let form {
            var components = URLComponents()
            components.queryItems = form.map { URLQueryItem(name: $0.key, value: $0.value) }
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: components.percentEncodedQuery ?? ""))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(60))
        for header in response.headers["Set-Cookie"] {
            let pair = String(header.split(separator: ";").first ?? "")
            cookie.withLock { $0 = pair.hasSuffix("=") ? nil : pair }
        }
        let html = String(buffer: try await response.body.collect(upTo: 64 << 20))
        return Page(status: Int(response.status.code), headers: response.headers, html: html)
    }
}
