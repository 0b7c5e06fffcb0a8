import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// The `Idempotency-Key` request header (IETF draft
/// "The Idempotency-Key HTTP Header Field"): a key names one request. The
/// same key with the same body returns the run the first request created;
/// with another body it is refused (422, ``FlowRunner/EngineError/Code/refused``);
/// while the first request with the key is still being handled, a second
/// gets 409. Keys live as long as their run (at least 24 hours: runs are
/// only pruned by `runs prune`).
final class IdempotencyKeys: Sendable {
    private let inFlight = Mutex<Set<String>>([])

    /// The key of `request`, or nil; refuses an empty or overlong key.
    static func key(of request: Request) throws(APIError) -> String? {
        guard let raw = request.headers[HTTPField.Name("Idempotency-Key")!] else { return nil }
        // The draft's key is an RFC 8941 string: quotes are allowed.
        var key = raw.trimmingCharacters(in: .whitespaces)
        if key.count >= 2, key.hasPrefix("\""), key.hasSuffix("\"") { key = String(key.dropFirst().dropLast()) }
        guard !key.isEmpty, key.utf8.count <= 255 else {
            throw APIError.badRequest("the Idempotency-Key header must be 1 to 255 characters", field: "Idempotency-Key")
        }
        return key
    }

    /// The digest of a request that a key names: SHA-256 (hex) of the route
    /// and its body as canonical JSON (``JSONBody/canonicalBytes``).
    static func digest(route: String, body: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(route.utf8))
        hasher.update(data: [0])
        hasher.update(data: body)
        return hasher.finalize().map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// Runs `body` holding `key` (per `scope`, the deployment); a second
    /// request with the key while the first is handled gets 409.
    func holding<T: Sendable>(_ key: String?, scope: String, _ body: () async throws -> T) async throws -> T {
        guard let key else { return try await body() }
        let slot = scope + "\u{0}" + key
        guard inFlight.withLock({ $0.insert(slot).inserted }) else {
            throw APIError.conflict("a request with Idempotency-Key \"\(key)\" is still being handled; try again when it is answered",
                                    field: "Idempotency-Key")
        }
        defer { _ = inFlight.withLock { $0.remove(slot) } }
        return try await body()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
