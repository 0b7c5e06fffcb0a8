import Foundation
import StateStore

/// libpq's password file (`.pgpass`): one `HOST:PORT:DATABASE:USER:PASSWORD`
/// line per entry, `*` matching anything in the first four fields, `\:` and
/// `\\` escaping a colon and a backslash, `#` starting a comment line. The
/// first line that matches the connection gives its password. A connection
/// through a Unix socket matches the host `localhost` or the socket's directory.
enum PasswordFile {
    /// The file libpq reads: `PGPASSFILE`, else `$HOME/.pgpass`.
    static func path(environment: [String: String]) -> String {
        if let explicit = environment["PGPASSFILE"], !explicit.isEmpty { return explicit }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.pgpass"
    }

    /// The password the file holds for `settings`, or nil when there is no
    /// file or no line matches.
    ///
    /// - Throws: ``StateStoreError/Code/cannotOpen`` naming the file when it
    ///   exists but cannot be read, or when others than its owner may read or
    ///   write it (libpq ignores such a file; this says why instead).
    static func password(for settings: PostgresSettings, environment: [String: String], location: String) throws(StateStoreError) -> String? {
        let file = path(environment: environment)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else { return nil }
        if let permissions = attributes[.posixPermissions] as? Int, permissions & 0o077 != 0 {
            throw StateStoreError(.cannotOpen, location: location,
                "password file \(file): others may read or change it (mode \(String(permissions & 0o777, radix: 8))); chmod 600 it, as libpq requires")
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw StateStoreError(.cannotOpen, location: location, "password file \(file): cannot be read as UTF-8 text")
        }
        return match(text, settings: settings)
    }

    /// The password of the first line of `text` that matches `settings`.
    static func match(_ text: String, settings: PostgresSettings) -> String? {
        let hosts = settings.isUnixSocket ? ["localhost", settings.host] : [settings.host]
        for line in text.split(whereSeparator: \.isNewline) {
            guard !line.hasPrefix("#"), let fields = fields(of: line), fields.count == 5 else { continue }
            let hostMatches = fields[0] == "*" || hosts.contains(fields[0])
            let portMatches = fields[1] == "*" || fields[1] == String(settings.port)
            let databaseMatches = fields[2] == "*" || fields[2] == settings.database
            let userMatches = fields[3] == "*" || fields[3] == settings.user
            if hostMatches && portMatches && databaseMatches && userMatches { return fields[4] }
        }
        return nil
    }

    /// The colon-separated fields of one line with escapes resolved; the last
    /// field takes the rest of the line (a password may hold colons only escaped,
    /// as libpq reads it). Nil for a line with fewer than five fields.
    static func fields(of line: Substring) -> [String]? {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields.count == 5 ? fields : nil
    }
}
