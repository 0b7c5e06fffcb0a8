@testable import ActionHost
import Foundation
import Synchronization
import Testing

@Suite("Running actions through the Python host")
struct ActionRunnerTests {
    let runner = HostFixtures.runner

    @Test("the seed's my-app upgrade runs unchanged: five primitive calls in order")
    func myAppUpgrade() async throws {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("upgrade", directory: HostFixtures.myApp), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(handler.primitiveNames == ["stop_components", "upgrade_deployment_version", "get_component_images", "execute_commands", "start_components"])
        let calls = handler.recordedCalls
        #expect(calls.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(calls[0].call == .primitive(name: "stop_components", deployment: "dep-1", arguments: ["components": ["server"]]))
        #expect(calls[1].call == .primitive(name: "upgrade_deployment_version", deployment: "dep-1", arguments: ["target_version": "0.2.0"]))
        #expect(calls[3].call == .primitive(name: "execute_commands", deployment: "dep-1", arguments: [
            "commands": ["my-app-upgrade"], "image": "my-app:0.2.0", "env_from_component": "server", "labels_from_component": "server",
        ]))
        #expect(outcome.pythonVersion != nil)
    }

    @Test("print, stderr, loggers, raw fd 2 and child processes all become log lines; the context reads as documented")
    func logsAndContext() async throws {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("logs_and_context"), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        let lines = handler.recordedLines.map { "\($0.level) \($0.logger) \($0.message)" }
        #expect(lines.contains("info stdout hello from print"))
        #expect(lines.contains("warning stderr to stderr"))
        #expect(lines.contains("info prefect.flow_runs run logger says 0.2.0"))
        #expect(lines.contains("warning custom custom logger"))
        #expect(lines.contains("warning stderr raw bytes on fd 2"))
        #expect(lines.contains("warning stderr child process output"))
        #expect(outcome.value?["version"] == "0.1.0")
        #expect(outcome.value?["fqdn"] == "my-app-dep-1.example.com")
        #expect(outcome.value?["dump"] == ["config": ["ingress_class": "nginx"], "namespace": "ns", "release": "rel"])
        #expect(outcome.value?["same"] == true)
        #expect(outcome.value?["flow_run"] == ["run-7", "upgrade-dep-1"])
    }

    @Test("@flow options reach the engine")
    func flowOptions() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("with_options"), handler: handler)
        #expect(outcome.status == .succeeded)
        let expected = FlowOptions(name: "with-options", retries: 2, retryDelaySeconds: [1, 5], timeoutSeconds: 30)
        #expect(outcome.flowOptions == expected)
        #expect(handler.options.withLock { $0 } == expected)
        #expect(expected.delay(beforeRetry: 1) == 1 && expected.delay(beforeRetry: 3) == 5)
    }

    @Test("asyncio.gather: concurrent calls are answered by id, whatever order they finish in")
    func gather() async {
        let handler = RecordingHandler { request in
            if case .primitive(_, _, let arguments) = request.call, let component = arguments["component"]?.stringValue {
                let delay = ["slow": 300, "medium": 150, "fast": 0][component] ?? 0
                try? await Task.sleep(for: .milliseconds(delay))
                return .value([.string(component)])
            }
            return .value(.null)
        }
        let outcome = await runner.run(HostFixtures.invocation("gathered"), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(outcome.value == [["slow"], ["fast"], ["medium"]])
        #expect(handler.recordedCalls.map(\.sequence).sorted() == [1, 2, 3])
    }

    @Test("both calling styles: context=, a leading deployment_id, and neither")
    func callingStyles() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("both_styles"), handler: handler)
        #expect(outcome.status == .succeeded)
        #expect(handler.recordedCalls.map(\.call) == [
            .primitive(name: "stop_components", deployment: "dep-1", arguments: ["components": ["a"]]),
            .primitive(name: "stop_components", deployment: "dep-1", arguments: ["components": ["b"]]),
            .primitive(name: "stop_components", deployment: nil, arguments: ["components": ["c"]]),
            .primitive(name: "get_deployment_version", deployment: nil, arguments: [:]),
        ])
        #expect(outcome.value == "0.1.0")
    }

    @Test("a failed primitive raises the matching exception with its details")
    func commandFailed() async {
        let outcome = await runner.run(HostFixtures.invocation("command_fails"), handler: RecordingHandler())
        #expect(outcome.value == ["exit_code": 1, "output": "tail of output", "message": "command 'false' exited with 1"])
    }

    @Test("a task whose end the engine cannot record fails where it was called, async or sync")
    func unrecordedTaskEnd() async {
        // The first task end is the async task's (flaky), the second the sync one's (sync_task).
        for (failing, name) in [(1, "flaky"), (2, "sync_task")] {
            let ends = Mutex(0)
            let handler = RecordingHandler { request in
                guard case .taskEnd = request.call else { return await RecordingHandler.defaultAnswer(request) }
                let count = ends.withLock { count -> Int in
                    count += 1
                    return count
                }
                return count == failing
                    ? .failure(ActionError(type: "EngineError", message: "cannot record the end of step 1: disk full"))
                    : await RecordingHandler.defaultAnswer(request)
            }
            let outcome = await runner.run(HostFixtures.invocation("tasks"), handler: handler)
            #expect(outcome.status == .failed)
            #expect(outcome.error?.type == "RuntimeError", "\(String(describing: outcome.error))")
            #expect(outcome.error?.message == "FlowRunner could not record the end of task '\(name)': EngineError: cannot record the end of step 1: disk full",
                    "\(String(describing: outcome.error))")
        }
    }

    @Test("@task: each call is a step; retries happen inside it; sync tasks work; non-JSON results are pickled")
    func tasks() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("tasks"), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(outcome.value == ["a": 42, "b": ["doubled": 10], "c": [1, 2, 3]])
        let calls = handler.recordedCalls
        #expect(calls.count == 6)
        #expect(calls[0].call == .taskBegin(name: "flaky", arguments: ["n": 21]))
        guard case .taskEnd(let step, .success(let value), let attempts) = calls[1].call else {
            Issue.record("expected a task end, got \(calls[1])")
            return
        }
        #expect(step == 1 && attempts == 3 && value == ["json": 42])
        guard case .taskEnd(_, .success(let pickled), _) = calls[5].call else {
            Issue.record("expected a task end, got \(calls[5])")
            return
        }
        #expect(pickled["pickle"] != nil && pickled["repr"] == "{1, 2, 3}")
        let retries = handler.recordedLines.filter { $0.message.contains("retrying") }
        #expect(retries.count == 2)
    }

    @Test("sync tasks called from threads under asyncio go through the event loop")
    func syncTasksInThreads() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("sync_tasks_in_threads"), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(outcome.value == [0, 2, 4, 6, 8, 10])
    }

    @Test("a replayed task returns its recorded value and its body does not run")
    func replayedTask() async {
        let handler = RecordingHandler { request in
            switch request.call {
            case .taskBegin(let name, _):
                return name == "sync_task" ? .replayTask(["json": ["doubled": 99]]) : .runTask(step: 1)
            default:
                return await RecordingHandler.defaultAnswer(request)
            }
        }
        let outcome = await runner.run(HostFixtures.invocation("sync_flow"), handler: handler)
        #expect(outcome.value == ["target": "0.2.0", "current": "0.1.0", "task": ["doubled": 99]])
        #expect(!handler.recordedLines.contains { $0.message == "sync task body ran" })
    }

    @Test("arguments by name: offered values, driver parameters, **kwargs")
    func argumentsByName() async {
        let parameter = await runner.run(HostFixtures.invocation("wants_parameter"), handler: RecordingHandler())
        #expect(parameter.value == [10, ["storage_size": 10], "dep-1"])
        let kwargs = await runner.run(HostFixtures.invocation("wants_kwargs"), handler: RecordingHandler())
        #expect(kwargs.value == ["context", "current_version", "deployment_id", "parameters", "target_version"])
    }

    @Test("a required parameter the hook cannot fill is a clear error naming it")
    func unfillableParameter() async {
        let outcome = await runner.run(HostFixtures.invocation("wants_unknown"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "ActionSignatureError")
        #expect(outcome.error?.message.contains("'foo', 'bar'") == true)
        #expect(outcome.error?.message.contains("it offers: context, deployment_id, target_version, current_version, parameters") == true)
    }

    @Test("an unsupported prefect import names the supported subset")
    func unsupportedPrefect() async {
        for function in ["unsupported_prefect", "unsupported_prefect_module"] {
            let outcome = await runner.run(HostFixtures.invocation(function), handler: RecordingHandler())
            #expect(outcome.status == .failed)
            #expect(outcome.error?.type == "ImportError")
            #expect(outcome.error?.message.contains("supported subset is: flow, task, get_run_logger") == true, "\(String(describing: outcome.error))")
        }
    }
}

@Suite("Misbehaving actions end as failed actions; the engine stays up")
struct MisbehaviourTests {
    let runner = HostFixtures.runner

    @Test("an exception: type, message and a traceback pointing at the author's line")
    func exception() async {
        let outcome = await runner.run(HostFixtures.invocation("raises"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "KeyError")
        #expect(outcome.error?.message == "'missing'")
        let traceback = outcome.error?.traceback ?? ""
        #expect(traceback.contains("actions.py\", line "))
        #expect(traceback.contains("return values[\"missing\"]"))
        #expect(!traceback.contains("_flowrunner"))
    }

    @Test("a syntax error names the file and line")
    func syntaxError() async {
        let outcome = await runner.run(HostFixtures.invocation("broken", file: "syntax_error.py"), handler: RecordingHandler())
        #expect(outcome.error?.type == "SyntaxError")
        #expect(outcome.error?.message.contains("syntax_error.py, line 1") == true, "\(String(describing: outcome.error))")
    }

    @Test("an import error names the module")
    func importError() async {
        let outcome = await runner.run(HostFixtures.invocation("action", file: "import_error.py"), handler: RecordingHandler())
        #expect(outcome.error?.type == "ModuleNotFoundError")
        #expect(outcome.error?.message.contains("definitely_not_a_module") == true)
    }

    @Test("a missing function or a non-function is a load error")
    func missingFunction() async {
        let missing = await runner.run(HostFixtures.invocation("nope"), handler: RecordingHandler())
        #expect(missing.error?.type == "ActionLoadError")
        #expect(missing.error?.message == "actions.py defines no function 'nope'")
        let notCallable = await runner.run(HostFixtures.invocation("not_a_function"), handler: RecordingHandler())
        #expect(notCallable.error?.message == "actions.py::not_a_function is a int, not a function")
    }

    @Test("sys.exit in the action")
    func exits() async {
        let outcome = await runner.run(HostFixtures.invocation("exits"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.message == "the action called sys.exit(3)")
    }

    @Test("os._exit kills the host mid-action")
    func hardExit() async {
        let outcome = await runner.run(HostFixtures.invocation("hard_exit"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "HostCrashed")
        #expect(outcome.error?.message.contains("exited with status 5 before the action finished") == true, "\(String(describing: outcome.error))")
    }

    @Test("a host that forks and exits does not hang the engine")
    func forksAndExits() async {
        // A hang would end at the invocation's limit as a Timeout; the crash must be reported instead.
        let outcome = await runner.run(HostFixtures.invocation("forks_and_exits"), handler: RecordingHandler())
        #expect(outcome.error?.type == "HostCrashed")
        #expect(outcome.error?.message.contains("exited with status 5") == true, "\(String(describing: outcome.error))")
    }

    @Test("a segfault")
    func segfault() async {
        let outcome = await runner.run(HostFixtures.invocation("segfault"), handler: RecordingHandler())
        #expect(outcome.error?.type == "HostCrashed")
        #expect(outcome.error?.message.contains("SIGSEGV") == true, "\(String(describing: outcome.error))")
    }

    @Test("the action closes the protocol channel")
    func closesChannel() async {
        let outcome = await runner.run(HostFixtures.invocation("closes_channel"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "HostCrashed")
        #expect(outcome.error?.message.contains("protocol channel closed") == true, "\(String(describing: outcome.error))")
        #expect(outcome.error?.message.contains("lost the protocol channel") == true)
    }

    @Test("garbage on the protocol channel")
    func garbage() async {
        let outcome = await runner.run(HostFixtures.invocation("garbage"), handler: RecordingHandler())
        #expect(outcome.error?.type == "ProtocolError")
        #expect(outcome.error?.message.contains("malformed message on the protocol channel: \"this is not json\"") == true, "\(String(describing: outcome.error))")
    }

    @Test("a 100 MB line on the protocol channel")
    func hugeLine() async {
        let outcome = await runner.run(HostFixtures.invocation("huge_line"), handler: RecordingHandler())
        #expect(outcome.error?.type == "ProtocolError")
        #expect(outcome.error?.message.contains("longer than 16 MiB") == true, "\(String(describing: outcome.error))")
    }

    @Test("a gigabyte of prints and 64 MiB of raw output: logs are capped, the action still succeeds")
    func flood() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("floods_stdout", timeout: .seconds(120)), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(outcome.value == "survived")
        #expect(outcome.logBytesDropped > 900_000_000)
        let kept = handler.recordedLines.reduce(0) { $0 + $1.message.utf8.count }
        #expect(kept < 20 << 20)
    }

    @Test("a hung async action times out: finally runs, no process is left", arguments: ["hangs_async", "hangs_sync"])
    func timeout(function: String) async throws {
        let marker = NSTemporaryDirectory() + "flowrunner-marker-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let outcome = await runner.run(
            HostFixtures.invocation(function, parameters: ["marker": .string(marker)], timeout: .seconds(4)), handler: RecordingHandler()
        )
        #expect(outcome.status == .timedOut, "\(String(describing: outcome.error))")
        #expect(outcome.error?.type == "Timeout")
        #expect(outcome.error?.message.contains("timed out") == true)
        let text = try String(contentsOfFile: marker, encoding: .utf8)
        #expect(text.contains("finally ran"), "finally blocks must run: \(text)")
        let pids = text.split(separator: "\n").first { $0.hasPrefix("pids ") }?.split(separator: " ").dropFirst().compactMap { Int32($0) } ?? []
        #expect(pids.count == 2)
        for pid in pids { #expect(!processExists(pid), "process \(pid) survived") }
    }

    @Test("cancelling the calling task cancels the action within the grace period")
    func cancel() async throws {
        let marker = NSTemporaryDirectory() + "flowrunner-marker-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let runner = runner
        let task = Task {
            await runner.run(HostFixtures.invocation("hangs_async", parameters: ["marker": .string(marker)]), handler: RecordingHandler())
        }
        // Wait until the action is inside its body, then cancel.
        let waitStarted = ContinuousClock.now
        while (try? String(contentsOfFile: marker, encoding: .utf8))?.contains("pids") != true, ContinuousClock.now - waitStarted < .seconds(20) {
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        let outcome = await task.value
        // A missed cancel would end at the invocation's limit as timedOut: the outcome tells (bench/ measures how fast).
        #expect(outcome.status == .cancelled, "\(String(describing: outcome.error))")
        #expect((try? String(contentsOfFile: marker, encoding: .utf8))?.contains("finally ran") == true)
    }

    @Test("a missing interpreter or bundle is a host start failure, not a crash")
    func badInterpreter() async {
        let broken = ActionRunner(interpreter: PythonInterpreter(path: "/nonexistent/python3"), pythonDirectory: runner.pythonDirectory, environment: [:])
        let outcome = await broken.run(HostFixtures.invocation("raises"), handler: RecordingHandler())
        #expect(outcome.status == .failed)
        #expect(outcome.error?.type == "HostStartFailed")
    }
}

@Suite("Actions whose module does not use asyncio run without an event loop")
struct PlainCoroutineTests {
    let runner = HostFixtures.runner

    @Test("primitives, tasks and the run logger work without asyncio")
    func plain() async {
        let handler = RecordingHandler()
        let outcome = await runner.run(HostFixtures.invocation("plain", file: "plain_actions.py"), handler: handler)
        #expect(outcome.status == .succeeded, "\(String(describing: outcome.error))")
        #expect(outcome.value == ["version": "0.1.0", "doubled": 42])
        #expect(handler.recordedLines.contains { $0.logger == "prefect.flow_runs" && $0.message == "plain flow for dep-1" })
        #expect(handler.recordedCalls.count == 3) // primitive, task begin, task end
    }

    @Test("a cancel while awaiting a primitive raises into the action; finally runs")
    func cancelWhileAwaiting() async throws {
        let marker = NSTemporaryDirectory() + "flowrunner-marker-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let handler = RecordingHandler { _ in
            try? await Task.sleep(for: .seconds(3600))
            return .value(.null)
        }
        let runner = runner
        let task = Task {
            await runner.run(HostFixtures.invocation("waits_forever", file: "plain_actions.py", parameters: ["marker": .string(marker)]), handler: handler)
        }
        // Cancel once the action awaits its primitive (however long the host took to start).
        let started = ContinuousClock.now
        while handler.recordedCalls.isEmpty, ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        let outcome = await task.value
        #expect(outcome.status == .cancelled)
        #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "finally ran\n")
    }
}
