/// A failure of the action host machinery itself (not of an action): no
/// interpreter, a missing bundled package, a process that cannot start.
public struct ActionHostError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// No usable `python3` was found.
        public static let interpreterNotFound = Code("interpreterNotFound")
        /// The interpreter is older than Python 3.9.
        public static let interpreterTooOld = Code("interpreterTooOld")
        /// The bundled Python package is not where it should be.
        public static let resourcesMissing = Code("resourcesMissing")
        /// The host process could not be started.
        public static let spawnFailed = Code("spawnFailed")
        /// Action hosts cannot be isolated from the engine here (not root, no
        /// such action user, or files the action user cannot read), and the
        /// operator did not opt out with `--unisolated-actions`.
        public static let isolationUnavailable = Code("isolationUnavailable")
        /// An input the host's helpers read was refused (a driver archive with a link, say).
        public static let refused = Code("refused")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, and what to do about it.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }
}
