import Foundation
import Logging
import PostgresNIO
import StateStore

/// The statements of one transaction, on the connection that holds it.
struct Transaction {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs one statement and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await Self.rows(query, on: connection, logger: logger)
    }

    /// Runs one statement, discarding what it returns.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
    }

    /// Runs one statement on `connection` and returns its rows, guarded
    /// against the connection closing under it (``PostgresConnection/guarded(_:)``).
    static func rows(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await connection.guarded {
            try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
        }
    }
}

extension PostgresStateStore {
    /// How many times a transaction the server aborted to break a deadlock
    /// (or a serialization failure) is tried again before the error is reported.
    static let conflictAttempts = 5

    /// How long calls that are safe to repeat keep being tried again while
    /// the server cannot be reached (a restart, a failover): waits of 0.1 s
    /// doubling to 2 s, for this long in all.
    static let outageRetryWindow: Duration = .seconds(20)

    /// Runs one statement on its own (it commits by itself) and returns its
    /// rows. A read (a statement starting with `SELECT`), or one marked
    /// `idempotent`, is tried again while the connection to the server is
    /// lost, for up to ``outageRetryWindow``; any other write is not (it may
    /// have been applied), and neither is any statement the server refused.
    func query(_ query: PostgresQuery, idempotent: Bool = false) async throws(StateStoreError) -> [PostgresRandomAccessRow] {
        let repeatable = idempotent || query.sql.drop(while: \.isWhitespace).uppercased().hasPrefix("SELECT")
        var conflicts = 1
        var outage = OutageRetry()
        while true {
            do {
                let logger = logger
                return try await client.withConnection { connection in
                    try await Transaction.rows(query, on: connection, logger: logger)
                }
            } catch {
                if conflicts < Self.conflictAttempts, Self.isConflict(error) { conflicts += 1; continue }
                if repeatable, Self.isConnectionLoss(error), await outage.wait() { continue }
                throw failure(error)
            }
        }
    }

    /// Runs `body` in one transaction (`BEGIN` ... `COMMIT`, `ROLLBACK` when it
    /// throws), tried again when the server aborts it to break a deadlock,
    /// and, for up to ``outageRetryWindow``, when the connection to the
    /// server is lost before `COMMIT` is sent (the server rolled it back).
    /// A connection lost during `COMMIT` is reported: it may have committed.
    /// Errors thrown by `body` that are ``StateStoreError``s pass unchanged.
    func transaction<T: Sendable>(_ body: (Transaction) async throws -> T) async throws(StateStoreError) -> T {
        var conflicts = 1
        var outage = OutageRetry()
        while true {
            var committing = false
            do {
                let logger = logger
                return try await client.withConnection { connection in
                    let transaction = Transaction(connection: connection, logger: logger)
                    try await transaction.execute("BEGIN")
                    let result: T
                    do {
                        result = try await body(transaction)
                    } catch {
                        // When the connection broke, the server rolls the transaction back by itself.
                        try? await transaction.execute("ROLLBACK")
                        throw error
                    }
                    committing = true
                    try await transaction.execute("COMMIT")
                    return result
                }
            } catch {
                if conflicts < Self.conflictAttempts, Self.isConflict(error) { conflicts += 1; continue }
                if !committing, Self.isConnectionLoss(error), await outage.wait() { continue }
                throw failure(error)
            }
        }
    }

    /// The connection to the server was lost, or could not be made because
    /// the server is shutting down or starting: what a restart or a failover looks like.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if error is ConnectionLost { return true }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown: return true
        default: return false
        }
    }

    /// A deadlock or serialization failure: the server aborted the
    /// transaction, which changed nothing and can simply run again.
    static func isConflict(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// An error naming this store.
    func refusal(_ code: StateStoreError.Code, _ reason: String) -> StateStoreError {
        StateStoreError(code, location: location, reason)
    }

    /// Any error of PostgresNIO, the network or the decoding of a row, as a ``StateStoreError``.
    func failure(_ error: any Error) -> StateStoreError {
        Self.failure(error, settings: settings)
    }

    /// Any error of PostgresNIO, the network or the decoding of a row, as a
    /// ``StateStoreError`` naming the store at `settings`.
    static func failure(_ error: any Error, settings: PostgresSettings) -> StateStoreError {
        func refusal(_ code: StateStoreError.Code, _ reason: String) -> StateStoreError {
            StateStoreError(code, location: settings.location, reason)
        }
        if let error = error as? StateStoreError { return error }
        if let error = error as? PSQLError { return failure(error, settings: settings) }
        if let error = error as? PostgresDecodingError {
            return refusal(.notADatabase, "column \(error.columnName) holds \(error.postgresType), not what FlowRunner stored there (\(error.code)); is this a FlowRunner database?")
        }
        if let error = error as? StoredValueError { return refusal(.database, error.description) }
        if error is CancellationError { return refusal(.database, "the call was cancelled before the server answered") }
        if let error = error as? ConnectionLost { return refusal(.cannotOpen, error.description) }
        // The pool's own errors (its circuit breaker after failed connection attempts).
        return refusal(.cannotOpen, "cannot reach the server (\(error)); check that it runs and accepts connections from here")
    }

    private static func failure(_ error: PSQLError, settings: PostgresSettings) -> StateStoreError {
        func refusal(_ code: StateStoreError.Code, _ reason: String) -> StateStoreError {
            StateStoreError(code, location: settings.location, reason)
        }
        if let info = error.serverInfo, let state = info[.sqlState] {
            var message = info[.message] ?? "error \(state)"
            if let detail = info[.detail] { message += " (\(detail))" }
            switch state {
            case "40P01", "40001", "55P03", "57014":
                return refusal(.busy, "the server gave up waiting for another connection's locks: \(message) [\(state)]")
            case "3D000":
                return refusal(.cannotOpen, "\(message); create it first (createdb \(settings.database)) [\(state)]")
            case "28000", "28P01":
                return refusal(.cannotOpen, "the server refused the credentials of \(settings.user): \(message) (password from the URL, PGPASSWORD or \(PasswordFile.path(environment: ProcessInfo.processInfo.environment))) [\(state)]")
            case "42501":
                return refusal(.cannotOpen, "\(settings.user) lacks a privilege: \(message) [\(state)]")
            case "57P01", "57P02", "57P03":
                return refusal(.cannotOpen, "the server is shutting down or starting: \(message) [\(state)]")
            default:
                if state.hasPrefix("08") || state.hasPrefix("53") {
                    return refusal(.cannotOpen, "\(message) [\(state)]")
                }
                return refusal(.database, "\(message) [\(state)]")
            }
        }
        // A PSQLError describes itself only vaguely (so as not to leak data): name its code.
        let underlying = error.underlying.map { underlying in ": \((underlying as? PSQLError).map { "\($0.code)" } ?? "\(underlying)")" } ?? ""
        switch error.code {
        case .sslUnsupported:
            return refusal(.cannotOpen, "the server does not offer TLS, and sslmode=\(settings.sslMode.rawValue) requires it")
        case .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return refusal(.cannotOpen, "cannot log in as \(settings.user) (\(error.code)\(underlying))")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            return refusal(.cannotOpen, "the connection to the server failed or closed (\(error.code)\(underlying)); check that it runs and is reachable")
        case .queryCancelled:
            return refusal(.database, "the call was cancelled before the server answered")
        default:
            return refusal(.database, "\(error.code)\(underlying)")
        }
    }
}

/// A stored value the store cannot read back (a word outside its closed set).
struct StoredValueError: Error, CustomStringConvertible {
    var description: String
}

extension PostgresRandomAccessRow {
    /// The value of `column`, decoded.
    ///
    /// - Throws: ``StoredValueError`` when the row has no such column;
    ///   `PostgresDecodingError` when it holds another type.
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard contains(column) else { throw StoredValueError(description: "the query returned no column \(column)") }
        return try self[column].decode(T.self)
    }

    /// A time column (seconds since 1970), or nil for NULL.
    func date(_ column: String) throws -> Date? {
        try value(column, as: Double?.self).map(Date.init(epochSeconds:))
    }

    /// A NOT NULL time column.
    func requiredDate(_ column: String) throws -> Date {
        Date(epochSeconds: try value(column, as: Double.self))
    }

    /// The closed-set value (status, hook, mode, kind) in `column` of `table`.
    ///
    /// - Throws: ``StoredValueError`` when the text is not one of `T`'s raw values.
    func word<T: RawRepresentable & CaseIterable>(_ column: String, of table: String) throws -> T where T.RawValue == String {
        let text = try value(column, as: String.self)
        guard let word = T(rawValue: text) else {
            throw StoredValueError(description: "\(table).\(column) holds \"\(text)\", expected one of \(T.allCases.map(\.rawValue).joined(separator: ", ")) (written by a newer FlowRunner, or damaged)")
        }
        return word
    }
}

extension PostgresQuery.StringInterpolation {
    /// The store's time in seconds since 1970 (`double precision`): see `nowSQL(_:)`.
    mutating func appendInterpolation(now fixed: Double?) {
        appendLiteral(nowSQL(fixed))
    }
}

/// The store's time as SQL text: the test clock's reading as a literal
/// (Swift prints the shortest decimal that reads back as the same `Double`),
/// or the database server's clock when the statement started: after the
/// locks the transaction took before it, so a claim that waited for another
/// run's end is stamped after that end.
func nowSQL(_ fixed: Double?) -> String {
    guard let fixed, fixed.isFinite else { return "extract(epoch FROM statement_timestamp())::float8" }
    return "(\(fixed))::float8"
}

/// A one-dimensional array parameter whose elements may be NULL
/// (PostgresNIO's arrays cannot hold NULL): for `unnest` of nullable columns.
struct NullableArray<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>: PostgresNonThrowingEncodable {
    var elements: [Element?]

    init(_ elements: [Element?]) {
        self.elements = elements
    }

    static var psqlType: PostgresDataType { Element.psqlArrayType }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // The binary array format: dimensions, has-nulls flag, element type,
        // then per dimension its length and lower bound, then each element
        // as a length (-1 for NULL) and its bytes.
        buffer.writeInteger(elements.isEmpty ? 0 : 1, as: Int32.self)
        buffer.writeInteger(elements.contains { $0 == nil } ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Element.psqlType.rawValue)
        guard !elements.isEmpty else { return }
        buffer.writeInteger(Int32(elements.count), as: Int32.self)
        buffer.writeInteger(1, as: Int32.self)
        for element in elements {
            if let element {
                let lengthIndex = buffer.writerIndex
                buffer.writeInteger(0, as: Int32.self)
                let start = buffer.writerIndex
                element.encode(into: &buffer, context: context)
                buffer.setInteger(Int32(buffer.writerIndex - start), at: lengthIndex, as: Int32.self)
            } else {
                buffer.writeInteger(-1, as: Int32.self)
            }
        }
    }
}

/// The waits between attempts of a call while the server cannot be reached.
struct OutageRetry {
    private let deadline = ContinuousClock.now + PostgresStateStore.outageRetryWindow
    private var delay: Duration = .milliseconds(100)

    /// Waits before the next attempt; false, without waiting, once the retry window is over.
    mutating func wait() async -> Bool {
        guard ContinuousClock.now + delay < deadline else { return false }
        do {
            try await Task.sleep(for: delay)
        } catch {
            return false
        }
        delay = min(delay * 2, .seconds(2))
        return true
    }
}
