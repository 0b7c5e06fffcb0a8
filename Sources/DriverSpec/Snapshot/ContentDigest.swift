import Crypto

/// Content digests used across FlowRunner (driver snapshots, step arguments):
/// SHA-256 (FIPS 180-4) from swift-crypto, written as lower-case hex.
public enum ContentDigest {
    /// Lower-case hex SHA-256 of `bytes` (64 characters).
    public static func sha256(_ bytes: some Collection<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// Lower-case hex of a finished digest.
    static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(SHA256.Digest.byteCount * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
