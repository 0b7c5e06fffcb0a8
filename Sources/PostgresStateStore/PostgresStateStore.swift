public import Foundation
public import StateStore
import Logging
import NIOSSL
import PostgresNIO

/// The shared ``StateStore``: one PostgreSQL database that several `serve`
/// processes on several machines use at once (`--state postgres://...`).
///
/// Contract (besides ``StateStore``'s):
/// - Times are seconds since 1970 (`double precision`), as the SQLite store
///   keeps them, read from the database server's clock (the start of the
///   writing statement) so that every machine judges leases alike; a store
///   opened with a ``StoreClock`` (tests) uses that clock instead.
/// - Ids grow and are never given again (pruned runs' ids included, unlike
///   SQLite's row ids); a write that is refused (a missing reference, a
///   duplicate) does not use one up.
/// - A claim locks the run's deployment row, then checks with a fresh
///   snapshot that the run is still the deployment's first queued run and
///   that none of its runs is running or cancelling: claims by any number of
///   processes never hand one run to two workers nor start two runs of one
///   deployment (`FOR UPDATE SKIP LOCKED`: a worker passes over a deployment
///   another worker is claiming instead of waiting for it).
/// - Run creation locks the deployment row too, so admission (a deleted
///   deployment, a run behind a delete, an exclusive run) is decided by one
///   process at a time per deployment.
/// - Every run end is written to the `run_ends` outbox by a trigger in the
///   transaction that ends the run; those transactions hold a shared advisory
///   lock that ``enqueueWebhookDeliveries(webhookID:limit:)`` takes exclusively,
///   so its cursor never passes an end that commits later.
/// - The schema is versioned in `schema_migrations`; migrations run in one
///   transaction under an advisory lock, so processes starting together
///   migrate once. A database with a version this FlowRunner does not know
///   is refused with ``StateStoreError/Code/newerSchema``, untouched.
/// - The connections are a pool (``PostgresClient``): a connection the
///   server dropped is replaced on the next use. When the server goes away
///   (a restart, a failover), transactions that lost their connection before
///   `COMMIT`, reads and lease renewals are tried again for up to 20 s; other
///   single-statement writes, and transactions cut during `COMMIT`, fail with
///   ``StateStoreError/Code/cannotOpen`` saying they may or may not have been
///   applied (the callers' own checks, transitions and leases, decide what
///   follows). A statement never waits for ever on a connection the server
///   closed (see `PostgresConnection.guarded(_:)`).
/// - Text cannot hold the NUL character in PostgreSQL: log lines' NULs are
///   stored as U+FFFD; any other text with a NUL is refused as ``StateStoreError/Code/database``.
public final class PostgresStateStore: StateStore {
    /// Where the store connects.
    public let settings: PostgresSettings
    /// The URL without its password, for messages.
    public let location: String
    /// The test clock, or nil for the database server's clock.
    let clock: StoreClock?
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// Wakes waiters on the changes other processes make (LISTEN/NOTIFY).
    let listener: ChangeListener

    /// How many connections one store's pool opens at most: the workers'
    /// claims, heartbeats and step records, the HTTP API's reads and the log
    /// followers share them. A store that waits for changes opens one more,
    /// which listens for change notifications (LISTEN).
    public static let defaultMaximumConnections = 10

    /// Connects to the database `url` names, checks it and brings its schema
    /// up to date (with `migrate`; without it a schema that needs migrating
    /// is refused, for commands that only read).
    ///
    /// - Parameters:
    ///   - url: `postgres://USER@HOST:PORT/DATABASE[?sslmode=...]` (see ``PostgresSettings``).
    ///   - environment: where `PGPASSWORD`, `PGPASSFILE`, `PGUSER`, ... come from.
    ///   - clock: a clock to use instead of the server's (tests); nil in production.
    ///   - maximumConnections: the size of the connection pool.
    ///   - migrate: whether missing migrations are applied.
    /// - Throws: ``StateStoreError`` naming the URL without its password:
    ///   `cannotOpen` for a bad URL, an unreachable server or refused
    ///   credentials; `newerSchema` for a database written by a newer
    ///   FlowRunner (or, without `migrate`, by an older one); `notFound`
    ///   without `migrate` when the database holds no FlowRunner schema yet;
    ///   `notADatabase` when its encoding is not UTF-8.
    public static func open(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment, clock: StoreClock? = nil,
        maximumConnections: Int = defaultMaximumConnections, migrate: Bool = true
    ) async throws(StateStoreError) -> PostgresStateStore {
        let settings = try PostgresSettings(url: url, environment: environment)
        // One connection first: a wrong password, a missing database or an
        // unreachable server is reported at once, as the server says it
        // (the pool retries failed connections for a minute before it gives up).
        try await probe(settings)
        let store = try PostgresStateStore(settings: settings, clock: clock, maximumConnections: maximumConnections)
        do {
            try await store.prepare(migrate: migrate)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Starts the connection pool for `settings` without connecting yet;
    /// ``open(url:environment:clock:maximumConnections:migrate:)`` also checks and migrates.
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` when the TLS settings
    ///   cannot be used (an unreadable `sslrootcert`).
    public init(settings: PostgresSettings, clock: StoreClock? = nil, maximumConnections: Int = defaultMaximumConnections) throws(StateStoreError) {
        self.settings = settings
        self.location = settings.location
        self.clock = clock
        self.logger = Logger(label: "flowrunner.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        var configuration: PostgresClient.Configuration
        if let socket = settings.unixSocketPath {
            configuration = PostgresClient.Configuration(unixSocketPath: socket, username: settings.user, password: settings.password,
                                                         database: settings.database)
        } else {
            configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                         password: settings.password, database: settings.database,
                                                         tls: try Self.tls(for: settings).pool)
        }
        configuration.options.connectTimeout = .seconds(settings.connectTimeout)
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("application_name", settings.applicationName)]
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.runner = Task { await client.run() }
        self.listener = ChangeListener(configuration: try Self.connectionConfiguration(settings), logger: logger)
    }

    /// Closes every connection; the store cannot be used afterwards.
    public func close() async {
        await listener.stop()
        runner.cancel()
        await runner.value
    }

    /// Opens one connection with `settings` and closes it.
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` saying why the server
    ///   cannot be reached or refused the connection.
    static func probe(_ settings: PostgresSettings) async throws(StateStoreError) {
        let configuration = try connectionConfiguration(settings)
        let logger = Logger(label: "flowrunner.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
        } catch {
            throw failure(error, settings: settings)
        }
    }

    /// The configuration of one connection outside the pool (the probe, the
    /// change listener) for `settings`.
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` when the TLS settings cannot be used.
    static func connectionConfiguration(_ settings: PostgresSettings) throws(StateStoreError) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socket = settings.unixSocketPath {
            configuration = PostgresConnection.Configuration(unixSocketPath: socket, username: settings.user, password: settings.password,
                                                             database: settings.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            do {
                tls = switch try Self.tls(for: settings) {
                case .disable: .disable
                case .prefer(let configuration): .prefer(try NIOSSLContext(configuration: configuration))
                case .require(let configuration): .require(try NIOSSLContext(configuration: configuration))
                }
            } catch {
                throw StateStoreError(.cannotOpen, location: settings.location, "the TLS settings cannot be used: \(error)")
            }
            configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.user,
                                                             password: settings.password, database: settings.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeout))
        return configuration
    }

    /// How TLS is used for an `sslmode`, and with which settings.
    enum TLSChoice {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)

        /// The same, as the pool's configuration says it.
        var pool: PostgresClient.Configuration.TLS {
            switch self {
            case .disable: .disable
            case .prefer(let configuration): .prefer(configuration)
            case .require(let configuration): .require(configuration)
            }
        }
    }

    /// How TLS is used for the `sslmode` (and `sslrootcert`) of `settings`.
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` when `sslrootcert` cannot be read.
    static func tls(for settings: PostgresSettings) throws(StateStoreError) -> TLSChoice {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let file = settings.sslRootCertificate {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw StateStoreError(.cannotOpen, location: settings.location, "sslrootcert \(file): cannot be read as PEM certificates (\(error))")
            }
        }
        switch settings.sslMode {
        case .disable:
            return .disable
        case .allow, .prefer:
            configuration.certificateVerification = .none
            return .prefer(configuration)
        case .require:
            // libpq checks the certificate under `require` only when a root certificate is given.
            configuration.certificateVerification = settings.sslRootCertificate == nil ? .none : .noHostnameVerification
            return .require(configuration)
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
            return .require(configuration)
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
            return .require(configuration)
        }
    }

    // MARK: Time

    /// The store's time now: the test clock's reading, else the database server's.
    public func currentTime() async throws(StateStoreError) -> Date {
        if let clock { return clock.now.asStored }
        let rows = try await query("SELECT extract(epoch FROM clock_timestamp())::float8 AS now")
        guard let seconds = try decode(rows, { try $0.value("now", as: Double.self) }).first else {
            throw refusal(.database, "the server did not say what time it is")
        }
        return Date(epochSeconds: seconds)
    }

    /// The time to stamp this call's records with: the test clock's reading in
    /// seconds since 1970, or nil for the database server's clock (see `nowSQL(_:)`).
    var fixedNow: Double? { clock?.now.epochSeconds }
}

extension Date {
    /// Seconds since 1970, as the store keeps times.
    var epochSeconds: Double { timeIntervalSince1970 }

    init(epochSeconds: Double) {
        self.init(timeIntervalSince1970: epochSeconds)
    }

    /// The date at the precision the store keeps (a `Double` of seconds since 1970).
    var asStored: Date { Date(epochSeconds: epochSeconds) }
}
