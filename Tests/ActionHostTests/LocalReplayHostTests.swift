import ActionHost
import FlowModel
import Foundation
import Testing

/// Local replay through the real Python host: the calls the engine offers
/// with the start message are answered by the host itself while they match,
/// reported to the engine in order, and checked by it.
@Suite("Local replay in the host")
struct LocalReplayHostTests {
    let runner = HostFixtures.runner

    /// A handler answering calls the host answered itself as an engine that agrees would.
    static func agreeing(with offered: [LocalReplayStep]) -> RecordingHandler {
        RecordingHandler { request in
            guard request.answeredByHost else { return await RecordingHandler.defaultAnswer(request) }
            let step = offered[request.sequence - 1]
            return step.kind == .task ? .replayTask(step.result) : .value(step.result)
        }
    }

    @Test("matching calls are answered with their recorded results and reported in order; the first that differs goes to the engine, and so does every later one")
    func answersUntilACallDiffers() async {
        let offered = [
            LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["server"]], resultJSON: #"{"stopped":["server"]}"#),
            LocalReplayStep(kind: .primitive, name: "upgrade_deployment_version", arguments: ["target_version": "0.2.0"], resultJSON: nil),
            // A recorded result that differs from what the engine would answer now: the action must get the record.
            LocalReplayStep(kind: .primitive, name: "get_component_images", arguments: ["component": "server"], resultJSON: #"["registry/my-app:0.1.0"]"#),
            // The action will call it with the image derived from the record above, not this one.
            LocalReplayStep(kind: .primitive, name: "execute_commands", arguments: [
                "commands": ["my-app-upgrade"], "image": "my-app:0.2.0", "env_from_component": "server", "labels_from_component": "server",
            ], resultJSON: #"{"exit_codes":[0]}"#),
            LocalReplayStep(kind: .primitive, name: "start_components", arguments: ["components": ["server"]], resultJSON: "{}"),
        ]
        var invocation = HostFixtures.invocation("upgrade", directory: HostFixtures.myApp)
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        let calls = handler.recordedCalls.sorted { $0.sequence < $1.sequence }
        #expect(calls.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(calls.map(\.answeredByHost) == [true, true, true, false, false])
        #expect(calls[3].call == .primitive(name: "execute_commands", deployment: "dep-1", arguments: [
            "commands": ["my-app-upgrade"], "image": "registry/my-app:0.2.0", "env_from_component": "server", "labels_from_component": "server",
        ]), "the action saw the recorded images")
    }

    @Test("a task answered by the host returns its recorded value and its body does not run")
    func answersATask() async {
        let offered = [LocalReplayStep(kind: .task, name: "sync_task", arguments: ["x": 1], resultJSON: #"{"json":{"doubled":99}}"#)]
        var invocation = HostFixtures.invocation("sync_flow")
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.value == ["target": "0.2.0", "current": "0.1.0", "task": ["doubled": 99]])
        #expect(!handler.recordedLines.contains { $0.message == "sync task body ran" })
        #expect(handler.recordedCalls.map(\.answeredByHost) == [true])
    }

    @Test("arguments are compared as JSON values: a string is not the number it spells")
    func comparesArgumentsExactly() async {
        // "1" is not 1: the call goes to the engine, and the task body runs.
        let offered = [LocalReplayStep(kind: .task, name: "sync_task", arguments: ["x": "1"], resultJSON: #"{"json":{"doubled":99}}"#)]
        var invocation = HostFixtures.invocation("sync_flow")
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(handler.recordedCalls.first?.answeredByHost == false)
        #expect(handler.recordedLines.contains { $0.message == "sync task body ran" })
    }

    @Test("an answered call is reported with its arguments as they were when it was made, not as the action changed them later")
    func reportsArgumentsAsCalled() async {
        let offered = [
            LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["a"]], resultJSON: "{}"),
            LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["a", "b"]], resultJSON: "{}"),
        ]
        var invocation = HostFixtures.invocation("reuses_arguments")
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.value == ["a", "b"], "\(String(describing: outcome.error))")
        let calls = handler.recordedCalls.sorted { $0.sequence < $1.sequence }
        #expect(calls.map(\.answeredByHost) == [true, true])
        #expect(calls.map(\.call) == [
            .primitive(name: "stop_components", deployment: "dep-1", arguments: ["components": ["a"]]),
            .primitive(name: "stop_components", deployment: "dep-1", arguments: ["components": ["a", "b"]]),
        ])
    }

    @Test("concurrent branches make their calls in the order they made them when the engine answered: all are answered locally")
    func gatheredBranches() async {
        let offered = ["a1", "b1", "a2", "b2"].map { name in
            LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": [.string(name)]], resultJSON: "\"\(name)\"")
        }
        var invocation = HostFixtures.invocation("gathered_branches")
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.value == [["a1", "a2"], ["b1", "b2"]], "\(String(describing: outcome.error))")
        #expect(handler.recordedCalls.map(\.answeredByHost) == [true, true, true, true])
    }

    @Test("an engine that would not replay the last calls the host answered (reported with done) fails the action")
    func engineDisagreesAtTheEnd() async {
        let offered = Self.myAppUpgrade
        var invocation = HostFixtures.invocation("upgrade", directory: HostFixtures.myApp)
        invocation.localReplay = offered
        let handler = RecordingHandler { request in
            guard request.answeredByHost else { return await RecordingHandler.defaultAnswer(request) }
            if request.sequence == offered.count {
                return .failure(ActionError(type: "EngineError", message: "cannot record the step: disk full"))
            }
            return .value(offered[request.sequence - 1].result)
        }
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "EngineError")
        #expect(outcome.error?.message.contains("answered by the host from its record: cannot record the step: disk full") == true, "\(String(describing: outcome.error))")
        #expect(handler.recordedCalls.count == offered.count, "every answered call was decided before the outcome")
    }

    /// The seed my-app upgrade's five calls as a first attempt records them (RecordingHandler's answers).
    static let myAppUpgrade = [
        LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["server"]], resultJSON: #"{"ok":true}"#),
        LocalReplayStep(kind: .primitive, name: "upgrade_deployment_version", arguments: ["target_version": "0.2.0"], resultJSON: #"{"ok":true}"#),
        LocalReplayStep(kind: .primitive, name: "get_component_images", arguments: ["component": "server"], resultJSON: #"["my-app:0.1.0"]"#),
        LocalReplayStep(kind: .primitive, name: "execute_commands", arguments: [
            "commands": ["my-app-upgrade"], "image": "my-app:0.2.0", "env_from_component": "server", "labels_from_component": "server",
        ], resultJSON: #"{"exit_codes":[0],"output":""}"#),
        LocalReplayStep(kind: .primitive, name: "start_components", arguments: ["components": ["server"]], resultJSON: #"{"ok":true}"#),
    ]

    @Test("an argument whose own code logs while it is compared neither blocks the host nor loses the line")
    func argumentThatLogs() async {
        let offered = [LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["a"]], resultJSON: "{}")]
        var invocation = HostFixtures.invocation("noisy_arguments", timeout: .seconds(30))
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.value == "ok", "\(String(describing: outcome.error))")
        #expect(handler.recordedCalls.map(\.answeredByHost) == [true])
        #expect(handler.recordedLines.contains { $0.message == "iterating the components" })
    }

    @Test("an engine that would not replay what the host answered fails the action")
    func engineDisagrees() async {
        var invocation = HostFixtures.invocation("upgrade", directory: HostFixtures.myApp)
        invocation.localReplay = [
            LocalReplayStep(kind: .primitive, name: "stop_components", arguments: ["components": ["server"]], resultJSON: #"{"stopped":["server"]}"#),
        ]
        let handler = RecordingHandler { request in
            request.answeredByHost ? .value("something else") : await RecordingHandler.defaultAnswer(request)
        }
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "ProtocolError")
        #expect(outcome.error?.message.contains("the host answered call 1 (stop_components)") == true, "\(String(describing: outcome.error))")
    }

    @Test("a replayed message the engine did not offer, or without calls, is a protocol error; nothing is run", arguments: [
        (#"{"type":"replayed","calls":[{"n":0,"kind":"primitive","name":"start_components","args":{"components":["x"]}}]}"#,
         "more calls from their records than the engine offered (0)"),
        (#"{"type":"replayed","calls":[{"kind":"primitive","name":"start_components","args":{"components":["x"]}}]}"#,
         "a replayed call without its index n"),
        (#"{"type":"replayed","calls":[]}"#, "a replayed message without calls"),
        (#"{"type":"replayed","calls":[{"n":0,"kind":"job","name":"x"}]}"#, "a call of unknown kind"),
    ])
    func forgedReplayed(line: String, reason: String) async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("forges_replayed", parameters: ["line": .string(line)]), handler: handler)
        #expect(outcome.error?.type == "ProtocolError")
        #expect(outcome.error?.message.contains(reason) == true, "\(String(describing: outcome.error))")
        #expect(handler.recordedCalls.isEmpty)
    }

    @Test("a thousand answered calls reach the engine in batches, all of them, in order")
    func manyCalls() async {
        let offered = (0..<1000).map { _ in
            LocalReplayStep(kind: .primitive, name: "get_deployment_version", arguments: [:], resultJSON: #""0.1.0""#)
        }
        var invocation = HostFixtures.invocation("many_calls", parameters: ["count": 1002])
        invocation.localReplay = offered
        let handler = Self.agreeing(with: offered)
        let outcome = await runner.run(invocation, handler: handler)
        #expect(outcome.value == 1002)
        let calls = handler.recordedCalls.sorted { $0.sequence < $1.sequence }
        #expect(calls.map(\.sequence) == Array(1...1002))
        #expect(calls.filter(\.answeredByHost).map(\.sequence) == Array(1...1000))
    }
}
