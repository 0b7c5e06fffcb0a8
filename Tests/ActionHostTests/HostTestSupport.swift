import ActionHost
import FlowModel
import Foundation
import Synchronization

/// Paths and a runner for the host tests.
enum HostFixtures {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let driver = repository + "/Tests/ActionHostTests/Fixtures/driver"
    static let myApp = repository + "/actions-examples/my-app"

    static let runner: ActionRunner = {
        let environment = ProcessInfo.processInfo.environment
        let directory = (try? HostResources.pythonDirectory(environment: environment))
            ?? repository + "/Sources/ActionHost/Resources/python"
        let cache = NSTemporaryDirectory() + "flowrunner-tests-python.json"
        let interpreter = (try? PythonInterpreter.resolve(environment: environment, cacheFile: cache)) ?? PythonInterpreter(path: "/usr/bin/python3")
        var runner = ActionRunner(interpreter: interpreter, pythonDirectory: directory, environment: environment)
        runner.gracePeriod = .milliseconds(500)
        return runner
    }()

    static let context: JSONValue = [
        "deployment": ["id": "dep-1", "name": "dep-1"],
        "app": ["name": "my-app", "version": "0.1.0", "chart": ["location": "my-app", "version": "0.1.0"]],
        "instance": ["config": ["ingress_class": "nginx"], "namespace": "ns", "release": "rel"],
        "services": ["my-app": ["primary_fqdn": "my-app-dep-1.example.com", "port": 8000]],
        "components": ["server": ["labels": ["app.kubernetes.io/name": "my-app"]]],
        "parameters": ["storage_size": 10],
    ]

    static func invocation(
        _ function: String, file: String = "actions.py", directory: String = driver,
        parameters: JSONValue = ["storage_size": 10], timeout: Duration? = .seconds(60)
    ) -> ActionInvocation {
        ActionInvocation(
            action: function, driverDirectory: directory, file: file, function: function,
            arguments: [
                "context": context, "deployment_id": "dep-1", "target_version": "0.2.0",
                "current_version": "0.1.0", "parameters": parameters,
            ],
            flowRun: ["id": "run-7", "name": "upgrade-dep-1", "parameters": [:]],
            timeout: timeout
        )
    }
}

/// A handler that records calls and answers from a script.
final class RecordingHandler: ActionCallHandler {
    let calls = Mutex<[ActionCallRequest]>([])
    let lines = Mutex<[ActionLogLine]>([])
    let options = Mutex<FlowOptions?>(nil)
    let answer: @Sendable (ActionCallRequest) async -> ActionReply

    init(answer: @escaping @Sendable (ActionCallRequest) async -> ActionReply = RecordingHandler.defaultAnswer) {
        self.answer = answer
    }

    static func defaultAnswer(_ request: ActionCallRequest) async -> ActionReply {
        switch request.call {
        case .primitive(let name, _, let arguments):
            switch name {
            case "get_component_images":
                let component = arguments["component"]?.stringValue ?? "x"
                return .value([.string("\(component == "server" ? "my-app" : component):0.1.0")])
            case "get_deployment_version": return .value("0.1.0")
            case "execute_commands":
                if arguments["commands"] == ["false"] {
                    return .failure(ActionError(type: "CommandFailed", message: "command 'false' exited with 1",
                                                details: ["exit_code": 1, "command": "false", "output": "tail of output"]))
                }
                return .value(["exit_codes": [0], "output": ""])
            default: return .value(["ok": true])
            }
        case .taskBegin:
            return .runTask(step: .int(request.sequence))
        case .taskEnd:
            return .value(.null)
        }
    }

    func handle(_ request: ActionCallRequest) async -> ActionReply {
        calls.withLock { $0.append(request) }
        return await answer(request)
    }

    func log(_ line: ActionLogLine) {
        lines.withLock { $0.append(line) }
    }

    func flowOptionsRead(_ options: FlowOptions) {
        self.options.withLock { $0 = options }
    }

    var recordedCalls: [ActionCallRequest] { calls.withLock { $0 } }
    var recordedLines: [ActionLogLine] { lines.withLock { $0 } }

    var primitiveNames: [String] {
        recordedCalls.compactMap { request in
            if case .primitive(let name, _, _) = request.call { return name }
            return nil
        }
    }
}

/// Whether a process is still alive (a zombie waiting for init counts as
/// gone), waiting up to two seconds for a killed one to go.
func processExists(_ pid: Int32) -> Bool {
    for _ in 0..<100 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        if state == "Z" || state == "X" { return false }
        usleep(20_000)
    }
    return true
}
