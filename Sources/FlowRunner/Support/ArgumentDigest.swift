import DriverSpec
import FlowModel

/// Digests of step arguments: SHA-256 of their canonical JSON (keys sorted),
/// which replay compares to tell the same call from a changed one.
enum ArgumentDigest {
    static func of(_ arguments: JSONValue) -> String {
        ContentDigest.sha256(arguments.jsonBytes)
    }
}
