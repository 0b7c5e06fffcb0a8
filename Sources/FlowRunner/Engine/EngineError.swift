public import StateStore

/// Why the engine refused a request or could not run it. Refusals
/// (``Code/badInput``, ``Code/notFound``, ``Code/conflict``) create and change
/// nothing.
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The request is malformed (an invalid name, a version that does not parse).
        public static let badInput = Code("badInput")
        /// The request is well-formed but refused: a version outside the
        /// driver's `supported_versions`, a parameter unknown, missing or of
        /// the wrong kind, an idempotency key reused for another request.
        public static let refused = Code("refused")
        /// A named deployment, driver or run does not exist.
        public static let notFound = Code("notFound")
        /// The request conflicts with the current state (a deployment that exists, a run that is running).
        public static let conflict = Code("conflict")
        /// The engine could not do its work (state store, Python host).
        public static let failed = Code("failed")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What is wrong, naming the input and what was expected.
    public var message: String
    /// The request field at fault, as the HTTP API names it (`app_version`,
    /// `target_version`, `parameters.NAME`), when one is.
    public var field: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { message }

    /// True for refusals of the request itself (exit status 2 in the CLI).
    public var isBadInput: Bool { code == .badInput || code == .refused || code == .notFound || code == .conflict }
}

extension EngineError {
    /// Runs a store call, turning its error into the engine's (see ``init(storeError:)``).
    static func storing<T>(_ body: () async throws(StateStoreError) -> T) async throws(EngineError) -> T {
        do {
            return try await body()
        } catch {
            throw EngineError(storeError: error)
        }
    }

    /// The engine's view of a state store error: unknown records are
    /// ``Code/notFound``, duplicates and illegal transitions ``Code/conflict``,
    /// anything else ``Code/failed`` with the store's full description.
    public init(storeError error: StateStoreError) {
        switch error.code {
        case .notFound: self.init(.notFound, error.reason)
        case .alreadyExists, .illegalTransition: self.init(.conflict, error.reason)
        default: self.init(.failed, error.description)
        }
    }
}
