import ArgumentParser
import Foundation
import PostgresStateStore
import StateStore

/// `flowrunner state migrate|copy`: the state database itself.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Migrate the state database, or copy a SQLite state file into PostgreSQL.",
        subcommands: [StateMigrateCommand.self, StateCopyCommand.self]
    )
}

/// `flowrunner state migrate [--state PATH|URL]`: brings the schema up to date.
struct StateMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or bring up to date the state database's schema (commands that write do it too; read-only ones do not)."
    )

    @OptionGroup var stateOptions: StateOptions

    func run() async throws {
        let store = try await stateOptions.open()
        let report: String
        do {
            report = try await Self.report(store)
        } catch {
            throw error.commandFailure
        }
        print(report)
    }

    /// `state LOCATION: schema up to date (...)`, and the PostgreSQL store closed.
    static func report(_ store: any StateStore) async throws(StateStoreError) -> String {
        if let postgres = store as? PostgresStateStore {
            let applied: [Int]
            do {
                applied = try await postgres.appliedMigrations()
            } catch {
                await postgres.close()
                throw error
            }
            await postgres.close()
            return "state \(postgres.location): schema up to date (versions \(applied.map(String.init).joined(separator: ", ")))"
        }
        if let sqlite = store as? SQLiteStateStore {
            let applied = try sqlite.appliedMigrations()
            return "state \(sqlite.location): schema up to date (\(applied.count) migrations, the last \(applied.last ?? "none"))"
        }
        return "state \(store.location): schema up to date"
    }
}

/// `flowrunner state copy --from PATH --to URL`: moves an installation from
/// its SQLite file to a PostgreSQL database, records and ids as they are.
struct StateCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy every record of a SQLite state file into an empty PostgreSQL database, ids kept.",
        discussion: """
            The copy is one transaction: it is complete or nothing is written. Stop every process that uses the file first \
            (serve, running hooks); runs the file holds as running are copied as running, and the first serve on the \
            database recovers them when their leases expire.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite state file to copy (it is only read).", valueName: "path"))
    var from: String

    @Option(name: .long, help: ArgumentHelp("The PostgreSQL database to copy into: empty, or with the schema only.", valueName: "url"))
    var to: String

    func validate() throws {
        guard PostgresSettings.isURL(to) else { throw ValidationError("--to must be a postgres:// URL") }
        guard !PostgresSettings.isURL(from) else { throw ValidationError("--from must be a SQLite state file, not a URL") }
    }

    func run() async throws {
        let source: SQLiteStateStore
        do {
            source = try SQLiteStateStore(path: from, readOnly: true)
        } catch {
            let hint = error.code == .newerSchema && !error.reason.contains("newer FlowRunner")
                ? " (flowrunner state migrate --state \(from) brings it up to date first)" : ""
            throw CommandFailure.badInput(error.description + hint)
        }
        let target: PostgresStateStore
        do {
            target = try await PostgresStateStore.open(url: to)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
        do {
            let copied = try await target.copy(from: source) { table, count in
                print("  \(table): \(count) row\(count == 1 ? "" : "s")")
            }
            await target.close()
            print("copied \(from) into \(target.location): \(copied.values.reduce(0, +)) rows")
        } catch {
            await target.close()
            throw error.commandFailure
        }
    }
}
