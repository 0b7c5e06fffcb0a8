import ArgumentParser
import Foundation
import FlowRunner
import PostgresStateStore
import StateStore

/// `--state PATH|URL`: which state database a command uses, a SQLite file
/// or a PostgreSQL server (`postgres://USER@HOST:PORT/DB`, for several runner machines).
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The state database: a SQLite file, or a postgres://USER@HOST:PORT/DATABASE URL shared by several runner machines.",
        discussion: "Default: $FLOWRUNNER_STATE, else ~/.flowrunner/state.sqlite. A URL takes ?sslmode=disable|prefer|require|verify-ca|verify-full; its password comes from the URL, else PGPASSWORD, else PGPASSFILE or ~/.pgpass.",
        valueName: "path|url"))
    var state: String?

    /// The resolved path, or URL: `--state`, else `$FLOWRUNNER_STATE`, else `~/.flowrunner/state.sqlite`.
    var path: String {
        SQLiteStateStore.resolvePath(explicit: state, environment: ProcessInfo.processInfo.environment)
    }

    /// Whether the state is a PostgreSQL server rather than a file.
    var isServer: Bool { PostgresSettings.isURL(path) }

    /// The state as messages name it: the path, or the URL without its password.
    var displayName: String {
        guard isServer else { return path }
        return (try? PostgresSettings(url: path, environment: ProcessInfo.processInfo.environment).location) ?? "a PostgreSQL server"
    }

    /// Opens the store, creating and migrating it as needed; a store error
    /// is bad input (exit 2) naming the path or the URL without its password.
    /// `checkpointing` applies to a SQLite file (`serve` checkpoints in the background).
    func open(checkpointing: WALCheckpointing = .automatic) async throws -> any StateStore {
        do {
            if isServer { return try await PostgresStateStore.open(url: path) }
            return try SQLiteStateStore(path: path, checkpointing: checkpointing)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
    }

    /// Opens the store for a command that only reads (lists, shows, logs):
    /// nothing is created, migrated or written, so a read-only file works
    /// (and a PostgreSQL role that may only read).
    func openForReading() async throws -> any StateStore {
        do {
            if isServer { return try await PostgresStateStore.open(url: path, maximumConnections: 2, migrate: false) }
            return try SQLiteStateStore(path: path, readOnly: true)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
    }
}

extension StateStoreError {
    /// Ends a command: unknown names are bad input (2), anything else a failure (1).
    var commandFailure: CommandFailure {
        code == .notFound || code == .alreadyExists ? .badInput(description) : .failed(description)
    }
}

/// Formats times for tables: local `yyyy-MM-dd HH:mm:ss`.
enum TimeFormat {
    static func table(_ date: Date?) -> String {
        date.map(TimeText.local) ?? "-"
    }
}

/// Prints rows as aligned columns under a header.
enum Table {
    static func print(_ header: [String], _ rows: [[String]]) {
        var text = ""
        render(header, rows, into: &text)
        Swift.print(text, terminator: "")
    }

    static func render(_ header: [String], _ rows: [[String]], into text: inout String) {
        let all = ([header] + rows).map { row in row.map { TerminalText.escaped($0, keepingNewlines: false) } }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let line = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
            text += line + "\n"
        }
    }
}
