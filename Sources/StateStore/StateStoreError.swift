/// Why the state store refused or failed an operation. Every error names the
/// store (a file path or a URL) and says what was expected; nothing stored is
/// lost by one.
public struct StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The store is not a FlowRunner database (not SQLite, or corrupt).
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
        /// Any other database failure.
        public static let database = Code("database")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// The store: a database file path, or a server URL without its password.
    public var location: String
    /// What went wrong, and what was expected.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, location: String, _ reason: String) {
        self.code = code
        self.location = location
        self.reason = reason
    }

    /// `state database LOCATION: REASON`.
    public var description: String { "state database \(location): \(reason)" }
}
