public import Foundation
import FlowRunner
import StateStore

/// Where and how `serve --webhook URL --webhook-secret-file F` tells of run
/// ends, and how long it keeps trying.
///
/// Delivery is at least once: an attempt counts as delivered only on a 2xx
/// answer; anything else (another status, no answer within
/// ``requestTimeout``, a refused connection) is tried again after a backoff
/// that doubles from ``firstRetryDelay`` up to ``longestRetryDelay`` (±20 %
/// jitter), until ``retryWindow`` after the first attempt; then the delivery is
/// marked `failed`. Redirects are not followed (a 3xx is a failed attempt).
public struct WebhookConfiguration: Sendable {
    /// The endpoint: `http` or `https` with a host.
    public var url: URL
    /// Signs each attempt (``WebhookSigner``).
    public var signer: WebhookSigner
    /// How long a delivery is retried, from its first attempt (24 hours).
    public var retryWindow: Duration = .seconds(24 * 3600)
    /// The wait before the first retry (1 second).
    public var firstRetryDelay: Duration = .seconds(1)
    /// The longest wait between two attempts (1 hour).
    public var longestRetryDelay: Duration = .seconds(3600)
    /// How long one attempt may take, connecting included (10 seconds).
    public var requestTimeout: Duration = .seconds(10)
    /// How often the store is asked for new run ends and due retries (1 second).
    public var pollInterval: Duration = .seconds(1)
    /// How many deliveries are posted at once (8).
    public var concurrency = 8

    /// A configuration for `url` signed with `secret`.
    ///
    /// - Throws: ``WebhookConfigurationError`` naming `webhook` when the URL
    ///   is not `http(s)://HOST...`, or `webhook-secret-file` for a bad secret.
    public init(url: String, secret: String) throws(WebhookConfigurationError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty else {
            throw WebhookConfigurationError(field: "webhook", "expected an http:// or https:// URL with a host, got \(RunEndEvent.shownURL(url).debugDescription)")
        }
        self.url = parsed
        self.signer = try WebhookSigner(secret: secret)
    }

    /// The URL posted to: ``url`` without its user and password, which go
    /// in ``basicAuthorization`` instead (as curl sends them).
    public var endpoint: String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false), components.user != nil else { return url.absoluteString }
        components.user = nil
        components.password = nil
        return components.string ?? url.absoluteString
    }

    /// `Basic base64(user:password)` (RFC 7617) when the URL names a user; nil otherwise.
    public var basicAuthorization: String? {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false), let user = components.user else { return nil }
        let credentials = user + ":" + (components.password ?? "")
        return "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    /// Reads the secret from `secretFile` (its contents without surrounding
    /// whitespace) and makes the configuration for `url`.
    ///
    /// - Throws: ``WebhookConfigurationError`` when the file cannot be read or
    ///   is empty, and as ``init(url:secret:)``.
    public init(url: String, secretFile: String) throws(WebhookConfigurationError) {
        guard let data = FileManager.default.contents(atPath: secretFile) else {
            throw WebhookConfigurationError(field: "webhook-secret-file", "\(secretFile): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
            throw WebhookConfigurationError(field: "webhook-secret-file", "\(secretFile): expected the secret as UTF-8 text in the file")
        }
        try self.init(url: url, secret: text)
    }

    /// When to try again after `attempts` failed attempts of a delivery
    /// first tried at `since`, seen at `now`; nil once the retry window
    /// would be passed. `jitter` is a factor from 0.8 to 1.2.
    public func nextAttempt(after attempts: Int, since: Date, now: Date, jitter: Double = Double.random(in: 0.8...1.2)) -> Date? {
        let doublings = Double(min(max(attempts - 1, 0), 40))
        let delay = min(firstRetryDelay.seconds * pow(2, doublings), longestRetryDelay.seconds) * min(max(jitter, 0.8), 1.2)
        let next = now.addingTimeInterval(delay)
        return next <= since.addingTimeInterval(retryWindow.seconds) ? next : nil
    }
}
