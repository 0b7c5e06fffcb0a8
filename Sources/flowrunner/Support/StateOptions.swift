import ArgumentParser
import Foundation
import FlowRunner
import StateStore

/// `--state PATH`: which state database a command uses.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The state database.", discussion: "Default: $FLOWRUNNER_STATE, else ~/.flowrunner/state.sqlite.", valueName: "path"))
    var state: String?

    /// The resolved path.
    var path: String {
        SQLiteStateStore.resolvePath(explicit: state, environment: ProcessInfo.processInfo.environment)
    }

    /// Opens the store; a store error is bad input (exit 2) naming the path.
    func open() throws -> SQLiteStateStore {
        do {
            return try SQLiteStateStore(path: path)
        } catch {
            throw CommandFailure.badInput(error.description)
        }
    }

    /// Opens the store for a command that only reads (lists, shows, logs):
    /// nothing is created, migrated or written, so a read-only file works.
    func openForReading() throws -> SQLiteStateStore {
        do {
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
