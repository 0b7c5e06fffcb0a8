import Crypto
import Foundation
import Hummingbird
import Synchronization

/// The operator web page's sessions: a browser that gave the server's token
/// once (`POST /login`) gets a random session id in an HttpOnly,
/// SameSite=Strict cookie; every state-changing form carries a CSRF token
/// derived from that id (HMAC-SHA256 under a key made at start). Without a
/// configured token (a loopback bind) every browser gets a session on its
/// first visit, so forms are still CSRF-checked.
///
/// Sessions live in this process's memory for ``lifetime``: a restart or
/// another `serve` process asks for the token again.
final class WebSessions: Sendable {
    /// The session cookie's name.
    static let cookieName = "flowrunner_session"
    /// How long a session lasts after it was made.
    static let lifetime: Duration = .seconds(12 * 3600)
    /// Most sessions kept at once (a server without a token makes one per new browser).
    static let maximumSessions = 10_000

    /// SHA-256 of the configured token; nil when the server has none.
    let tokenDigest: [UInt8]?
    /// The CSRF key's bytes (SymmetricKey is not Sendable): made at start, never stored.
    private let keyBytes: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }()
    private let sessions = Mutex<[String: ContinuousClock.Instant]>([:])

    init(token: String?) {
        tokenDigest = token.map { Array(SHA256.hash(data: Array($0.utf8))) }
    }

    /// Whether a token must be given before the page shows anything.
    var needsLogin: Bool { tokenDigest != nil }

    /// Whether `token` is the server's (compared as digests, in constant time).
    func accepts(token: String) -> Bool {
        guard let tokenDigest else { return true }
        return BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual(Array(SHA256.hash(data: Array(token.utf8))), tokenDigest)
    }

    /// A new session id (32 random bytes, hex).
    func open() -> String {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let now = ContinuousClock.now
        sessions.withLock { table in
            // Bounded: expired sessions go when the table is full, then the oldest.
            if table.count >= Self.maximumSessions {
                table = table.filter { $0.value > now }
                while table.count >= Self.maximumSessions, let oldest = table.min(by: { $0.value < $1.value }) { table.removeValue(forKey: oldest.key) }
            }
            table[id] = now + Self.lifetime
        }
        return id
    }

    /// Forgets a session (`POST /logout`).
    func close(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// The request's live session id, if its cookie names one.
    func session(of request: Request) -> String? {
        guard let id = request.cookies[Self.cookieName]?.value, id.count == 64 else { return nil }
        let now = ContinuousClock.now
        return sessions.withLock { table in (table[id].map { $0 > now } ?? false) ? id : nil }
    }

    /// The CSRF token of session `id` (hex HMAC-SHA256).
    func csrfToken(for id: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(id.utf8), using: SymmetricKey(data: keyBytes)).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `given` is session `id`'s CSRF token (constant time).
    func checks(csrf given: String, for id: String) -> Bool {
        BearerTokenMiddleware<BasicRequestContext>.constantTimeEqual(Array(given.utf8), Array(csrfToken(for: id).utf8))
    }

    /// The cookie that carries session `id`.
    func cookie(_ id: String) -> Cookie {
        Cookie(name: Self.cookieName, value: id, maxAge: Int(Self.lifetime.components.seconds), path: "/", secure: false, httpOnly: true, sameSite: .strict)
    }
}
