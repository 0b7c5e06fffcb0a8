import Foundation
import PostgresStateStore
import StateStore
import Testing

@Suite("PostgreSQL URLs and password files")
struct PostgresSettingsTests {
    let environment = ["USER": "me", "HOME": "/nonexistent-home"]

    @Test("a full URL: user, password, host, port, database, sslmode; the location leaves the password out")
    func fullURL() throws {
        let settings = try PostgresSettings(url: "postgres://runner:s%40cret@db.example.com:6543/flow?sslmode=verify-full", environment: environment)
        #expect(settings.user == "runner" && settings.password == "s@cret" && settings.host == "db.example.com" && settings.port == 6543)
        #expect(settings.database == "flow" && settings.sslMode == .verifyFull && !settings.isUnixSocket)
        #expect(settings.location == "postgres://runner@db.example.com:6543/flow?sslmode=verify-full")
        let other = try PostgresSettings(url: "POSTGRESQL://runner@[::1]/flow", environment: environment)
        #expect(other.host == "::1" && other.port == 5432 && other.sslMode == .prefer && other.password == nil)
        #expect(other.location == "postgres://runner@[::1]:5432/flow")
    }

    @Test("missing parts come from PGHOST, PGPORT, PGUSER (else USER) and PGDATABASE (else the user's name)")
    func defaults() throws {
        let bare = try PostgresSettings(url: "postgres://", environment: environment)
        #expect(bare.host == "localhost" && bare.port == 5432 && bare.user == "me" && bare.database == "me")
        let fromEnvironment = try PostgresSettings(url: "postgresql:///", environment: [
            "PGHOST": "pg.internal", "PGPORT": "5433", "PGUSER": "ops", "PGDATABASE": "state", "HOME": "/nonexistent-home",
        ])
        #expect(fromEnvironment.host == "pg.internal" && fromEnvironment.port == 5433 && fromEnvironment.user == "ops" && fromEnvironment.database == "state")
    }

    @Test("a host starting with / is a Unix socket directory, percent-encoded or as ?host=")
    func unixSocket() throws {
        let encoded = try PostgresSettings(url: "postgres://flow@%2Fvar%2Frun%2Fpostgresql:5433/state", environment: environment)
        #expect(encoded.isUnixSocket && encoded.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5433" && encoded.sslMode == .disable)
        let parameter = try PostgresSettings(url: "postgres://flow@/state?host=/tmp/pg", environment: environment)
        #expect(parameter.unixSocketPath == "/tmp/pg/.s.PGSQL.5432")
        #expect(parameter.location == "postgres://flow@%2Ftmp%2Fpg:5432/state?sslmode=disable")
    }

    @Test("wrong URLs are refused naming what is wrong, never echoing the password", arguments: [
        ("mysql://u@h/db", "not a PostgreSQL URL"),
        ("postgres://u:pw@h:99999/db", "port"),
        ("postgres://u:pw@h:abc/db", "port"),
        ("postgres://u:pw@h/db?sslmode=sometimes", "sslmode"),
        ("postgres://u:pw@h/db?color=blue", "unknown parameter \"color\""),
        ("postgres://u:pw@h/db?connect_timeout=0", "connect_timeout"),
        ("postgres://u:pw@[::1/db", "IPv6"),
        ("postgres://u:pw@a,b/db", "several hosts"),
        ("postgres://u:pw@h/db%zz", "database"),
        ("postgres://u:pw@h/db#frag", "fragment"),
    ])
    func refused(url: String, expected: String) {
        let error = #expect(throws: StateStoreError.self) { try PostgresSettings(url: url, environment: environment) }
        #expect(error?.code == .cannotOpen)
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("pw") == false)
    }

    @Test("no user anywhere is refused naming the user")
    func noUser() {
        let error = #expect(throws: StateStoreError.self) { try PostgresSettings(url: "postgres://h/db", environment: [:]) }
        #expect(error?.description.contains("user") == true)
    }

    @Test("the password: the URL's, else PGPASSWORD, else the password file's first matching line")
    func passwordSources() throws {
        let directory = NSTemporaryDirectory() + "flowrunner-pgpass-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/pgpass"
        let lines = [
            "# comment",
            "other.host:*:*:*:wrong",
            "db.example.com:5432:flow:runner:first\\:with\\\\escapes",
            "*:*:*:runner:second",
            "localhost:5432:*:*:socket",
        ]
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        var environment = ["PGPASSFILE": file, "HOME": directory]

        #expect(try PostgresSettings(url: "postgres://runner@db.example.com/flow", environment: environment).password == "first:with\\escapes")
        #expect(try PostgresSettings(url: "postgres://runner@elsewhere/x", environment: environment).password == "second")
        #expect(try PostgresSettings(url: "postgres://ops@%2Frun%2Fpg/x", environment: environment).password == "socket")
        #expect(try PostgresSettings(url: "postgres://ops@elsewhere/x", environment: environment).password == nil)
        #expect(try PostgresSettings(url: "postgres://runner:inline@elsewhere/x", environment: environment).password == "inline")
        environment["PGPASSWORD"] = "from-environment"
        #expect(try PostgresSettings(url: "postgres://runner@elsewhere/x", environment: environment).password == "from-environment")
        environment["PGPASSWORD"] = nil

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let error = #expect(throws: StateStoreError.self) { try PostgresSettings(url: "postgres://runner@elsewhere/x", environment: environment) }
        #expect(error?.description.contains(file) == true && error?.description.contains("chmod 600") == true)

        // Without PGPASSFILE, ~/.pgpass.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        try FileManager.default.moveItem(atPath: file, toPath: directory + "/.pgpass")
        #expect(try PostgresSettings(url: "postgres://runner@elsewhere/x", environment: ["HOME": directory]).password == "second")
    }

    @Test("only postgres:// and postgresql:// URLs name a server")
    func isURL() {
        #expect(PostgresSettings.isURL("postgres://h/db") && PostgresSettings.isURL("PostgreSQL://h/db"))
        #expect(!PostgresSettings.isURL("/var/lib/flowrunner/state.sqlite") && !PostgresSettings.isURL("postgres.sqlite"))
    }
}
