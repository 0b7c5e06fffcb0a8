import Foundation
import Logging
import PostgresNIO
import PostgresStateStore
import StateStore

/// The PostgreSQL server the tests may use: `FLOWRUNNER_TEST_POSTGRES_URL`
/// (a role that may create databases; `Tests/Support/postgres-test-cluster`
/// starts one). Without it, the PostgreSQL store is not tested.
enum PostgresTestServer {
    /// The server's URL, or nil when the tests run without one.
    static let url: String? = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    static var isConfigured: Bool { url != nil }
}

/// A database of its own on the test server for one test, dropped afterwards.
struct PostgresTestDatabase: Sendable {
    /// The database's name: `flowrunner_test_` and random hex.
    let name: String
    /// The URL of the database (the server's URL with this database).
    let url: String

    /// Creates an empty database.
    static func create() async throws -> PostgresTestDatabase {
        let name = "flowrunner_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await PostgresTestServer.admin("CREATE DATABASE \(name)")
        return PostgresTestDatabase(name: name, url: try PostgresTestServer.url(database: name))
    }

    /// Drops the database, closing whatever connections are left on it.
    func drop() async throws {
        try await PostgresTestServer.admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs `body` with a fresh database and drops it afterwards, whether `body` threw or not.
    static func with<T>(_ body: (PostgresTestDatabase) async throws -> T) async throws -> T {
        let database = try await create()
        do {
            let result = try await body(database)
            try await database.drop()
            return result
        } catch {
            try? await database.drop()
            throw error
        }
    }

    /// Runs statements on this database over a connection of its own (what a
    /// test does behind the store's back: a newer schema, a damaged table).
    func execute(_ statements: String...) async throws {
        try await PostgresTestServer.execute(statements, database: name)
    }
}

extension PostgresTestServer {
    /// The test server's URL with another database (and the password it was given, if any).
    static func url(database: String) throws -> String {
        guard let url else { throw StateStoreError(.cannotOpen, location: "tests", "FLOWRUNNER_TEST_POSTGRES_URL is not set") }
        let settings = try PostgresSettings(url: url, environment: ProcessInfo.processInfo.environment)
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
        let credentials = encoded(settings.user) + (settings.password.map { ":" + encoded($0) } ?? "")
        let host = settings.isUnixSocket ? encoded(settings.host) : (settings.host.contains(":") ? "[\(settings.host)]" : settings.host)
        return "postgres://\(credentials)@\(host):\(settings.port)/\(database)?sslmode=\(settings.sslMode.rawValue)"
    }

    /// Runs one statement on the server's own database.
    static func admin(_ statement: String) async throws {
        guard let url else { throw StateStoreError(.cannotOpen, location: "tests", "FLOWRUNNER_TEST_POSTGRES_URL is not set") }
        let settings = try PostgresSettings(url: url, environment: ProcessInfo.processInfo.environment)
        try await execute([statement], database: settings.database)
    }

    /// The first column (an integer) of every row `query` answers on the server's own database.
    static func adminInts(_ query: String) async throws -> [Int] {
        guard let url else { throw StateStoreError(.cannotOpen, location: "tests", "FLOWRUNNER_TEST_POSTGRES_URL is not set") }
        let settings = try PostgresSettings(url: url, environment: ProcessInfo.processInfo.environment)
        return try await withConnection(database: settings.database) { connection in
            var values: [Int] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: query), logger: Logger(label: "flowrunner.tests")) {
                values.append(try row.decode(Int.self))
            }
            return values
        }
    }

    /// Runs statements in order on `database` over a connection of their own.
    static func execute(_ statements: [String], database: String) async throws {
        try await withConnection(database: database) { connection in
            for statement in statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "flowrunner.tests")) }
        }
    }

    /// Runs `body` with a connection of its own to `database`, closed afterwards.
    private static func withConnection<T>(database: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        guard let url else { throw StateStoreError(.cannotOpen, location: "tests", "FLOWRUNNER_TEST_POSTGRES_URL is not set") }
        let settings = try PostgresSettings(url: url, environment: ProcessInfo.processInfo.environment)
        let configuration = if let socket = settings.unixSocketPath {
            PostgresConnection.Configuration(unixSocketPath: socket, username: settings.user, password: settings.password, database: database)
        } else {
            PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.user, password: settings.password,
                                             database: database, tls: .disable)
        }
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "flowrunner.tests"))
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
