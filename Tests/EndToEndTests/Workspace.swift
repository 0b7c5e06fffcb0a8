import Foundation
import Testing

/// The store the end-to-end tests run against, from the environment:
/// `FLOWRUNNER_TEST_STATE=postgres` gives every workspace a PostgreSQL
/// database of its own on the server of `FLOWRUNNER_TEST_POSTGRES_URL`
/// (`eval "$(Tests/Support/postgres-test-cluster start)"` starts one);
/// unset or `sqlite`, a SQLite file in the workspace's directory.
enum TestState {
    static let kind = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_STATE"].flatMap { $0.isEmpty ? nil : $0 } ?? "sqlite"
    static var isPostgres: Bool { kind == "postgres" }
    static var isSQLite: Bool { !isPostgres }
}

/// A scratch state directory for one test, removed afterwards; its state is
/// a SQLite file in it, or (see ``TestState``) a PostgreSQL database of its
/// own, dropped afterwards.
final class Workspace: Sendable {
    let directory: String
    /// Where the test and its actions exchange marker files: outside the
    /// state directory (which isolated actions cannot see) and open to the
    /// action user (sticky and world-writable, like /tmp).
    let exchange: String
    /// What every command and `serve` of the test gets as `FLOWRUNNER_STATE`:
    /// the SQLite file's path or the PostgreSQL database's URL.
    let state: String
    /// The PostgreSQL database behind `state`; nil on SQLite.
    let database: PostgresTestDatabase?

    /// A workspace on the store `kind` names (`sqlite` or `postgres`), by
    /// default the one the environment chooses.
    init(kind: String = TestState.kind) {
        directory = NSTemporaryDirectory() + "flowrunner-e2e-" + UUID().uuidString
        exchange = directory + "-exchange"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: exchange, withIntermediateDirectories: true)
        _ = chmod(exchange, 0o1777)
        switch kind {
        case "postgres":
            do {
                let database = try PostgresTestDatabase.create()
                self.database = database
                state = database.url
            } catch {
                // Every command of the test then fails on a state that does not exist.
                Issue.record("FLOWRUNNER_TEST_STATE=postgres: \(error)")
                database = nil
                state = "postgres://127.0.0.1:1/flowrunner-test-database-not-created"
            }
        default:
            if kind != "sqlite" {
                Issue.record("FLOWRUNNER_TEST_STATE=\(kind): expected sqlite or postgres")
            }
            database = nil
            state = directory + "/state.sqlite"
        }
    }

    /// What every flowrunner process of the test gets: `FLOWRUNNER_STATE`,
    /// and on PostgreSQL `HOME` too, the workspace's directory: the engine
    /// keeps its driver copies and caches in `~/.flowrunner` then (see
    /// ``localDirectory``), and a test must not touch the real one. The
    /// password file and Python's user packages stay those of the real home.
    var environment: [String: String] {
        guard database != nil else { return ["FLOWRUNNER_STATE": state] }
        let real = ProcessInfo.processInfo.environment
        let home = real["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return ["FLOWRUNNER_STATE": state, "HOME": directory,
                "PGPASSFILE": real["PGPASSFILE"] ?? home + "/.pgpass", "PYTHONUSERBASE": real["PYTHONUSERBASE"] ?? home + "/.local"]
    }

    /// Where the engine keeps its copies of drivers and its caches: beside
    /// the SQLite file, or in `~/.flowrunner` (the workspace's) on PostgreSQL.
    var localDirectory: String { database == nil ? directory : directory + "/.flowrunner" }

    /// True while no command has written the state: no SQLite file, or no
    /// table in the PostgreSQL database (the first write creates the schema).
    var stateUntouched: Bool {
        guard let database else { return !FileManager.default.fileExists(atPath: state) }
        return (try? database.query("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")) == "0"
    }

    /// Runs flowrunner against this workspace's state.
    @discardableResult
    func run(_ arguments: [String]) async throws -> FlowRunnerBinary.Result {
        try await FlowRunnerBinary.run(arguments, environment: environment)
    }

    /// Runs flowrunner and parses its stdout as JSON.
    func json(_ arguments: [String]) async throws -> Any {
        let result = try await run(arguments)
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    func runShow(_ run: Int) async throws -> [String: Any] {
        (try await json(["runs", "show", String(run), "--output", "json"]) as? [String: Any]) ?? [:]
    }

    func jobCount(_ deployment: String) async throws -> Int {
        let shown = try await json(["deployments", "show", deployment, "--output", "json"]) as? [String: Any]
        let cluster = shown?["cluster"] as? [String: Any]
        return (cluster?["jobs"] as? [Any])?.count ?? -1
    }

    /// Starts flowrunner in the background against this workspace's state.
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FlowRunnerBinary.path)
        process.arguments = arguments
        process.environment = FlowRunnerBinary.baseEnvironment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Loads the testbed driver and deploys `name` with `behaviour` (and its
    /// marker file under this workspace). Returns the marker's path.
    @discardableResult
    func deployTestbed(_ name: String, behaviour: String, marker markerName: String? = nil, markerExists: Bool = false) async throws -> String {
        let marker = exchange + "/" + (markerName ?? name)
        if markerExists { _ = FileManager.default.createFile(atPath: marker, contents: Data()) }
        try await run(["drivers", "load", testbed])
        try await run(["deploy", name, "--driver", "testbed", "--app-version", "1.0.0", "--param", "behaviour=\(behaviour)", "--param", "marker=\(marker)"])
        return marker
    }

    deinit {
        database?.drop()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: exchange)
    }
}

/// A database of its own on the test PostgreSQL server, made and dropped
/// with `psql` (PostgreSQL's client, installed with its server).
struct PostgresTestDatabase: Sendable {
    /// `fr_e2e_` and random hex.
    let name: String
    /// The server's URL with this database.
    let url: String

    /// Creates an empty database on the server of `FLOWRUNNER_TEST_POSTGRES_URL`.
    static func create() throws(PsqlError) -> PostgresTestDatabase {
        guard let server = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_URL"], !server.isEmpty else {
            throw PsqlError("FLOWRUNNER_TEST_POSTGRES_URL is not set; start a server with: eval \"$(Tests/Support/postgres-test-cluster start)\"")
        }
        guard var components = URLComponents(string: server), components.scheme?.hasPrefix("postgres") == true else {
            throw PsqlError("FLOWRUNNER_TEST_POSTGRES_URL \"\(server)\" is not a postgres:// URL")
        }
        let name = "fr_e2e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        components.path = "/" + name
        guard let url = components.string else { throw PsqlError("cannot put a database into \"\(server)\"") }
        _ = try Psql.run(url: server, "CREATE DATABASE \(name)")
        return PostgresTestDatabase(name: name, url: url)
    }

    /// Drops the database, cutting the connections still on it (a serve the test left running).
    func drop() {
        guard let server = ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_URL"] else { return }
        do {
            _ = try Psql.run(url: server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        } catch {
            FileHandle.standardError.write(Data("could not drop test database \(name): \(error)\n".utf8))
        }
    }

    /// Runs one statement on the database; its rows as psql prints them unaligned (`|` between columns).
    func query(_ sql: String) throws(PsqlError) -> String {
        try Psql.run(url: url, sql)
    }
}

struct PsqlError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// PostgreSQL's command-line client.
enum Psql {
    /// `psql` on PATH, else the newest under /usr/lib/postgresql (Debian's layout).
    static let path: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/psql") {
            return "\(directory)/psql"
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.sorted { $0.compare($1, options: .numeric) == .orderedAscending }.reversed()
            .map { "/usr/lib/postgresql/\($0)/bin/psql" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Runs `sql` on `url`; its output without the last newline. Throws with psql's message when it fails.
    static func run(url: String, _ sql: String) throws(PsqlError) -> String {
        guard let path else { throw PsqlError("no psql on PATH nor under /usr/lib/postgresql; install Debian's postgresql-client") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
        var environment = ProcessInfo.processInfo.environment
        if environment["PGCONNECT_TIMEOUT"] == nil { environment["PGCONNECT_TIMEOUT"] = "20" }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw PsqlError("cannot run \(path): \(error)") }
        // The outputs are a few lines: one pipe's buffer holds them while the other is read.
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PsqlError("psql \(sql.prefix(60)) on \(url) failed (exit \(process.terminationStatus)): "
                + message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output.hasSuffix("\n") ? String(output.dropLast()) : output
    }
}
