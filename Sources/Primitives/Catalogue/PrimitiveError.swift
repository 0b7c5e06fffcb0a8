import DriverSpec
public import FlowModel

/// Why a primitive refused its arguments or failed. `type` is the Python
/// exception class the action sees (`UnknownComponent`, `VersionNotSupported`,
/// `CommandFailed`, `PrimitiveError`); `details` carries structured data
/// (a failed command's `exit_code`, `command`, `output`).
public struct PrimitiveError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// No primitive of that name.
        public static let unknownPrimitive = Code("unknownPrimitive")
        /// An argument is missing, unexpected or of the wrong type.
        public static let badArgument = Code("badArgument")
        /// A component the driver does not declare.
        public static let unknownComponent = Code("unknownComponent")
        /// A version outside `supported_versions` (or not a version).
        public static let versionNotSupported = Code("versionNotSupported")
        /// A command exited non-zero.
        public static let commandFailed = Code("commandFailed")
        /// The cluster failed, timed out, or a fixture injected a failure.
        public static let cluster = Code("cluster")
        /// The primitive was cancelled (its job deleted).
        public static let cancelled = Code("cancelled")
        /// The call was cut off (its action's host died); what it started goes on.
        public static let interrupted = Code("interrupted")
        /// The Helm values to apply did not render (``HelmValuesSource``).
        public static let values = Code("values")
        public var description: String { name }
    }

    public var code: Code
    /// The Python exception class name.
    public var type: String
    public var message: String
    public var details: JSONValue?

    init(_ code: Code, type: String = "PrimitiveError", _ message: String, details: JSONValue? = nil) {
        self.code = code
        self.type = type
        self.message = message
        self.details = details
    }

    public var description: String { "\(type): \(message)" }

    /// A `PrimitiveError` raised by the engine around a primitive (a call
    /// naming another deployment, a failure injected by a fixture).
    public static func refused(_ message: String) -> PrimitiveError {
        PrimitiveError(.cluster, message)
    }

    /// The Helm values did not render: `message` names `values.j2.yml:LINE`
    /// and the reason (raised to the action as `PrimitiveError`).
    public static func values(_ message: String) -> PrimitiveError {
        PrimitiveError(.values, message)
    }
}
