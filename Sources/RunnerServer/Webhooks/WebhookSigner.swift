import Crypto
import Foundation

/// Signs webhook bodies as the Standard Webhooks specification has it
/// (https://www.standardwebhooks.com, "Signature scheme"): HMAC-SHA256 with
/// the shared secret over `"{webhook-id}.{webhook-timestamp}.{body}"`, sent
/// as `webhook-signature: v1,{base64 of the MAC}`. A receiver recomputes it
/// with the same secret and compares in constant time; the timestamp (Unix
/// seconds) lets it refuse old replays.
public struct WebhookSigner: Sendable {
    /// The HMAC key's bytes.
    let key: [UInt8]

    /// A signer with `secret` as the key. A secret written the Standard
    /// Webhooks way, `whsec_` followed by base64, is the decoded bytes;
    /// anything else is its UTF-8 bytes as they are.
    ///
    /// - Throws: ``WebhookConfigurationError`` when the secret is shorter than
    ///   16 bytes or its `whsec_` form is not base64.
    public init(secret: String) throws(WebhookConfigurationError) {
        let bytes: [UInt8]
        if secret.hasPrefix("whsec_") {
            guard let decoded = Data(base64Encoded: String(secret.dropFirst("whsec_".count))) else {
                throw WebhookConfigurationError(field: "webhook-secret-file", "the secret starts with whsec_ but the rest is not base64")
            }
            bytes = Array(decoded)
        } else {
            bytes = Array(secret.utf8)
        }
        guard bytes.count >= 16 else {
            throw WebhookConfigurationError(field: "webhook-secret-file", "the secret has \(bytes.count) bytes; use at least 16")
        }
        key = bytes
    }

    /// The `webhook-signature` header value for one attempt: `v1,` and the
    /// base64 HMAC-SHA256 of `"{id}.{timestamp}.{body}"`.
    public func signature(id: String, timestamp: Int, body: [UInt8]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// A `--webhook` setting that cannot be used, naming the option (`field`) and why.
public struct WebhookConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The option at fault, without dashes: `webhook` or `webhook-secret-file`.
    public var field: String
    public var message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "--\(field): \(message)" }
}
