import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: text from actions")
struct TextConformance {
    /// A NUL comes from action code (a task's name, a log line); PostgreSQL's
    /// text cannot hold it and SQLite cut the text there: every store keeps
    /// it as U+FFFD and the rest of the text with it.
    @Test("a NUL in a step's name or a log line is kept as U+FFFD, the text after it kept too", arguments: StoreKind.allCases)
    func nul(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let run = try await store.makeRun(try await store.makeDeployment())
            let action = try #require(try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)]).first)
            _ = try await store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: 1, kind: .task, name: "ta\0sk",
                                                argsJSON: #"{"x":"\u0000"}"#, argsDigest: "d"), divergenceJSON: nil)
            try await store.recordReplayedSteps([(NewStep(actionRunID: action.id, attempt: 2, seq: 1, kind: .task, name: "ta\0sk",
                                                          argsJSON: "{}", argsDigest: "d"), "null")])
            let steps = try await store.steps(actionRunID: action.id)
            #expect(steps.map(\.name) == ["ta\u{FFFD}sk", "ta\u{FFFD}sk"])
            #expect(steps.first?.argsJSON == #"{"x":"\u0000"}"#, "JSON keeps its escaped NUL")

            let messages = ["nul \0 inside", "\0", "plain ünïcødé 🚀", ""]
            try await store.appendLogs(messages.map {
                NewLogLine(runID: run.id, action: "up\0grade", attempt: 1, level: .info, logger: "std\0out", message: $0)
            })
            let lines = try await store.logs(runID: run.id)
            #expect(lines.map(\.message) == ["nul \u{FFFD} inside", "\u{FFFD}", "plain ünïcødé 🚀", ""])
            #expect(lines.allSatisfy { $0.action == "up\u{FFFD}grade" && $0.logger == "std\u{FFFD}out" })
        }
    }
}
