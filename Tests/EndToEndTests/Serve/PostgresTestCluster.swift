import Foundation

/// The test PostgreSQL server (`Tests/Support/postgres-test-cluster`) as a
/// whole: whether there is one, and restarting it.
enum PostgresTestCluster {
    /// Whether a test server was started for the tests (`$FLOWRUNNER_TEST_POSTGRES_URL`).
    static var isConfigured: Bool { !(ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_URL"] ?? "").isEmpty }
    /// Its directory (`$FLOWRUNNER_TEST_POSTGRES_DIR`), which restarting needs.
    static var directory: String? { ProcessInfo.processInfo.environment["FLOWRUNNER_TEST_POSTGRES_DIR"] }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is
    /// cut, as a crash or failover would.
    static func restart() async throws {
        guard let directory else { throw ServeError(message: "FLOWRUNNER_TEST_POSTGRES_DIR is not set") }
        let script = FlowRunnerBinary.repository + "/Tests/Support/postgres-test-cluster"
        let status = try await spawnAndWait([script, "restart", directory])
        if status != 0 { throw ServeError(message: "postgres-test-cluster restart exited \(status); see \(directory)/pg_ctl.log") }
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
}
