import Foundation

/// A database of its own on the test PostgreSQL server
/// (`$FLOWRUNNER_TEST_POSTGRES_URL`, started by
/// `Tests/Support/postgres-test-cluster`), created with `psql` and dropped
/// (`WITH (FORCE)`) when released.
final class PostgresTestDatabase: Sendable {
    /// The test server's URL, nil when no server was started for the tests.
    static var serverURL: String? { ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_URL"] }
    /// The test server's directory (`$FLOWRUNNER_TEST_POSTGRES_DIR`), which `restart` needs.
    static var clusterDirectory: String? { ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_DIR"] }

    /// `postgres://USER@HOST:PORT/NAME`, for `--state` or `FLOWRUNNER_STATE`.
    let url: String
    let name: String
    private let serverURL: String

    private init(serverURL: String, name: String, url: String) {
        self.serverURL = serverURL
        self.name = name
        self.url = url
    }

    /// Creates a fresh database; throws when there is no test server or `psql` fails.
    static func create() async throws -> PostgresTestDatabase {
        guard let serverURL, var components = URLComponents(string: serverURL) else {
            throw ServeError(message: "FLOWRUNNER_TEST_POSTGRES_URL is not set: start a server with Tests/Support/postgres-test-cluster")
        }
        let name = "fr_e2e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        components.path = "/" + name
        guard let url = components.string else { throw ServeError(message: "cannot make a database URL from \(serverURL)") }
        try await shell(["/usr/bin/env", "psql", serverURL, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"])
        return PostgresTestDatabase(serverURL: serverURL, name: name, url: url)
    }

    /// Restarts the test server (`pg_ctl restart -m fast`): every connection
    /// is cut, as a crash or failover would.
    static func restartServer() async throws {
        guard let clusterDirectory else { throw ServeError(message: "FLOWRUNNER_TEST_POSTGRES_DIR is not set") }
        let script = FlowRunnerBinary.repository + "/Tests/Support/postgres-test-cluster"
        let status = try await spawnAndWait([script, "restart", clusterDirectory])
        if status != 0 { throw ServeError(message: "postgres-test-cluster restart exited \(status); see \(clusterDirectory)/pg_ctl.log") }
    }

    /// Runs a command with posix_spawn and reaps it with its own waitpid.
    /// Not Foundation's Process: a script whose grandchild (the restarted
    /// server) outlives it was left a zombie that Process never saw end.
    private static func spawnAndWait(_ arguments: [String]) async throws -> Int32 {
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawn(&pid, arguments[0], nil, nil, argv, environ)
        guard spawned == 0 else { throw ServeError(message: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0, errno != EINTR { throw ServeError(message: "waitpid \(pid): \(String(cString: strerror(errno)))") }
            try await Task.sleep(for: .milliseconds(50))
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }

    deinit {
        // Not waited for: a deinit must not block; the server drops it shortly after.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", serverURL, "-q", "-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}
