/// Why the state store refused or failed an operation. Every error names the
/// database path and says what was expected; nothing stored is lost by one.
public struct StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The file exists but is not a SQLite database (or is corrupt).
        public static let notADatabase = Code("notADatabase")
        /// The file or its directory cannot be opened or written.
        public static let cannotOpen = Code("cannotOpen")
        /// The database was written by a newer FlowRunner.
        public static let newerSchema = Code("newerSchema")
        /// A status change that the lifecycle does not allow.
        public static let illegalTransition = Code("illegalTransition")
        /// A record that was named does not exist.
        public static let notFound = Code("notFound")
        /// A record with the same unique name exists.
        public static let alreadyExists = Code("alreadyExists")
        /// Another process holds the database longer than the busy timeout.
        public static let busy = Code("busy")
        /// Any other SQLite failure.
        public static let database = Code("database")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// The database file.
    public var path: String
    /// What went wrong, and what was expected.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, path: String, _ reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    /// `state database PATH: REASON`.
    public var description: String { "state database \(path): \(reason)" }
}
