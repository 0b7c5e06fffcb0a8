import ArgumentParser
import Foundation
import StateStore

/// `flowrunner runs ...`: inspect, retry, cancel and prune runs.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Inspect and manage runs.",
        subcommands: [RunsPruneCommand.self]
    )
}

/// `flowrunner runs prune --older-than 30d`.
struct RunsPruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished runs (succeeded, failed, cancelled) with their steps and logs.",
        discussion: "Runs still queued or running are never pruned."
    )

    @Option(name: .customLong("older-than"), help: ArgumentHelp("Delete runs that ended longer ago than this: 30d, 12h, 45m, 90s or 2w.", valueName: "age"))
    var olderThan: RetentionAge

    @OptionGroup var stateOptions: StateOptions

    func run() throws {
        let store = try stateOptions.open()
        do {
            let count = try store.pruneRuns(endedBefore: Date().addingTimeInterval(-olderThan.seconds))
            print("pruned \(count) run\(count == 1 ? "" : "s") that ended more than \(olderThan.text) ago")
        } catch {
            throw error.commandFailure
        }
    }
}

/// An age such as `30d`: a whole number and a unit (s, m, h, d, w).
struct RetentionAge: ExpressibleByArgument {
    var seconds: TimeInterval
    var text: String

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = argument.last, let scale = units[unit], let number = Int(argument.dropLast()), number >= 0 else {
            return nil
        }
        seconds = TimeInterval(number) * scale
        text = argument
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
