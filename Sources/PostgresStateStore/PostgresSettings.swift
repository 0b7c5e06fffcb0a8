import Foundation
public import StateStore

/// Where a ``PostgresStateStore`` connects, read from a
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMETERS]` URL
/// (`postgresql://` too), as libpq reads one.
///
/// - The password comes from the URL, else `PGPASSWORD`, else the first
///   matching line of the password file (`PGPASSFILE`, else `~/.pgpass`; see
///   ``PasswordFile``), else there is none (trust or peer authentication).
/// - A missing user is `PGUSER`, else `USER`; a missing host is `PGHOST`, else
///   `localhost`; a missing port `PGPORT`, else 5432; a missing database the
///   user's name.
/// - A host that starts with `/` (percent-encoded in the URL, `%2Frun%2Fpostgresql`,
///   or given as `?host=/run/postgresql`) is the directory of the server's
///   Unix socket: the connection goes to `DIRECTORY/.s.PGSQL.PORT`, without TLS.
/// - Parameters: `sslmode` (`disable`, `allow`, `prefer` the default, `require`,
///   `verify-ca`, `verify-full`), `sslrootcert` (a PEM file of the certificate
///   authorities to trust instead of the system's), `host`, `port`, `user`,
///   `password`, `dbname`, `connect_timeout` (seconds) and `application_name`.
///   Any other parameter is refused, naming it.
public struct PostgresSettings: Sendable, Hashable {
    /// How TLS is used, as libpq's `sslmode` says.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it (libpq tries without first; here it is `prefer`), certificate not checked.
        case allow
        /// TLS when the server offers it, certificate not checked.
        case prefer
        /// TLS or no connection; the certificate is not checked.
        case require
        /// TLS with a certificate signed by a trusted authority, whatever host name it names.
        case verifyCA = "verify-ca"
        /// TLS with a trusted certificate that names the host.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address, or the directory of its Unix socket (starting with `/`).
    public var host: String
    /// The TCP port, or the number in the Unix socket's name.
    public var port: Int
    /// The role to connect as.
    public var user: String
    /// The password, or nil to offer none.
    public var password: String?
    /// The database.
    public var database: String
    /// How TLS is used (never over a Unix socket).
    public var sslMode: SSLMode
    /// A PEM file of certificate authorities to trust (`sslrootcert`), or nil for the system's.
    public var sslRootCertificate: String?
    /// How long opening a connection may take, in seconds.
    public var connectTimeout: Int
    /// The `application_name` the server shows for the connections.
    public var applicationName: String

    /// Whether ``host`` is a Unix socket directory.
    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// The Unix socket file, when ``host`` is a directory.
    public var unixSocketPath: String? { isUnixSocket ? "\(host)/.s.PGSQL.\(port)" : nil }

    /// The URL without its password, for messages: `postgres://USER@HOST:PORT/DATABASE`
    /// (with `?sslmode=` when it is not the default).
    public var location: String {
        let hostText = isUnixSocket ? Self.percentEncoded(host) : (host.contains(":") ? "[\(host)]" : host)
        let query = sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)"
        return "postgres://\(Self.percentEncoded(user))@\(hostText):\(port)/\(Self.percentEncoded(database))\(query)"
    }

    /// Whether `text` names a PostgreSQL server rather than a file: it starts
    /// with `postgres://` or `postgresql://` (any case).
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Reads a connection URL; `environment` supplies the defaults and the
    /// password sources (see the type's documentation).
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` naming the part of the URL
    ///   that is wrong (scheme, user, host, port, database, a parameter and
    ///   its allowed values) or the password file that cannot be used; the
    ///   error's location is the URL with its password removed.
    public init(url: String, environment: [String: String]) throws(StateStoreError) {
        let parser = URLParts(url: url)
        let redacted = parser.redacted
        func refuse(_ reason: String) -> StateStoreError {
            StateStoreError(.cannotOpen, location: redacted, reason)
        }
        guard let rest = parser.afterScheme else {
            throw refuse("not a PostgreSQL URL: expected postgres://USER@HOST:PORT/DATABASE")
        }
        if rest.contains("#") { throw refuse("a PostgreSQL URL has no fragment (#...)") }
        let (beforeQuery, queryText) = rest.split(once: "?")
        let (authority, pathText) = beforeQuery.split(once: "/")
        let (userInfo, hostPort): (String?, String) = {
            guard let at = authority.lastIndex(of: "@") else { return (nil, authority) }
            return (String(authority[..<at]), String(authority[authority.index(after: at)...]))
        }()
        var user: String?
        var password: String?
        if let userInfo {
            let (name, secret) = userInfo.split(once: ":")
            user = try Self.decoded(name, field: "user", refuse)
            password = try secret.map { secret throws(StateStoreError) in try Self.decoded(secret, field: "password", refuse) }
        }
        var host: String?
        var portText: String?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw refuse("host: an IPv6 address in [ ] lacks its closing ]") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("host: expected :PORT after [\(host ?? "")]") }
                portText = String(after.dropFirst())
            }
        } else if !hostPort.isEmpty {
            let (name, port) = hostPort.split(once: ":")
            if name.contains(",") { throw refuse("host: several hosts are not supported; name one") }
            host = try Self.decoded(name, field: "host", refuse)
            portText = port
        }
        var database = try pathText.map { path throws(StateStoreError) in try Self.decoded(path, field: "database", refuse) }
        var sslMode = SSLMode.prefer
        var rootCertificate: String?
        var connectTimeout = 10
        var applicationName = "flowrunner"
        for pair in (queryText ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let (rawName, rawValue) = String(pair).split(once: "=")
            let name = try Self.decoded(rawName, field: "parameter name", refuse)
            let value = try Self.decoded(rawValue ?? "", field: "parameter \(name)", refuse)
            switch name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw refuse("sslmode: \"\(value)\" is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert": rootCertificate = value
            case "host": host = value
            case "port": portText = value
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            case "application_name": applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else { throw refuse("connect_timeout: \"\(value)\" is not a whole number of seconds above 0") }
                connectTimeout = seconds
            default:
                throw refuse("unknown parameter \"\(name)\" (known: sslmode, sslrootcert, host, port, user, password, dbname, connect_timeout, application_name)")
            }
        }
        let resolvedHost = host.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGHOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        let resolvedPortText = portText.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGPORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "5432"
        guard let port = Int(resolvedPortText), (1...65_535).contains(port) else {
            throw refuse("port: \"\(resolvedPortText)\" is not a port number (1 to 65535)")
        }
        guard let resolvedUser = user.flatMap({ $0.isEmpty ? nil : $0 }) ?? environment["PGUSER"].flatMap({ $0.isEmpty ? nil : $0 })
                ?? environment["USER"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw refuse("user: none given (postgres://USER@HOST/DATABASE) and neither PGUSER nor USER is set")
        }
        self.host = resolvedHost
        self.port = port
        self.user = resolvedUser
        self.database = database.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGDATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? resolvedUser
        self.sslMode = resolvedHost.hasPrefix("/") ? .disable : sslMode
        self.sslRootCertificate = rootCertificate
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
        self.password = password ?? environment["PGPASSWORD"]
        if self.password == nil {
            self.password = try PasswordFile.password(for: self, environment: environment, location: redacted)
        }
    }

    /// Percent-decodes one part of the URL.
    private static func decoded(_ text: String, field: String, _ refuse: (String) -> StateStoreError) throws(StateStoreError) -> String {
        guard let decoded = text.removingPercentEncoding else {
            throw refuse("\(field): invalid percent-encoding in \"\(text)\"")
        }
        return decoded
    }

    /// Percent-encodes what a URL part cannot hold as it is.
    private static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// The pieces of a URL before it is understood, and the URL with its password masked.
private struct URLParts {
    let url: String

    /// What follows `postgres://` or `postgresql://`, or nil for another scheme.
    var afterScheme: String? {
        for scheme in ["postgres://", "postgresql://"] where url.lowercased().hasPrefix(scheme) {
            return String(url.dropFirst(scheme.count))
        }
        return nil
    }

    /// The URL with the password (after `USER:` in the authority, or a
    /// `password=` parameter) removed: what errors name as the location.
    var redacted: String {
        guard let rest = afterScheme else { return url.count > 200 ? String(url.prefix(200)) + "..." : url }
        let scheme = String(url.prefix(url.count - rest.count))
        let (beforeQuery, query) = rest.split(once: "?")
        let (authority, path) = beforeQuery.split(once: "/")
        var maskedAuthority = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            let user = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            maskedAuthority = user + String(authority[at...])
        }
        var text = scheme + maskedAuthority + (path.map { "/" + $0 } ?? "")
        if let query {
            let kept = query.split(separator: "&").filter { !$0.lowercased().hasPrefix("password=") }
            if !kept.isEmpty { text += "?" + kept.joined(separator: "&") }
        }
        return text
    }
}

extension String {
    /// The text before the first `separator` and what follows it (nil when there is none).
    func split(once separator: Character) -> (String, String?) {
        guard let index = firstIndex(of: separator) else { return (self, nil) }
        return (String(self[..<index]), String(self[self.index(after: index)...]))
    }
}
