import DriverSpec
import FlowModel
import Foundation

/// Digests of step arguments: SHA-256 of their canonical JSON (keys sorted),
/// which replay compares to tell the same call from a changed one.
enum ArgumentDigest {
    static func of(_ arguments: JSONValue) -> String {
        of(jsonBytes: arguments.jsonBytes)
    }

    /// The digest of arguments already written as canonical JSON (``JSONValue/jsonBytes``).
    static func of(jsonBytes: Data) -> String {
        ContentDigest.sha256(jsonBytes)
    }
}
