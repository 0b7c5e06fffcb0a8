// Measures the Python action host for bench/: cold start (spawn to the
// action's first primitive call), primitive round trips, 10,000 calls.
// Prints one JSON object per metric.
//
//   ActionHostProbe DRIVER_DIR
import ActionHost
import Foundation
import Synchronization

final class TimingHandler: ActionCallHandler {
    let stamps = Mutex<[ContinuousClock.Instant]>([])

    func handle(_ request: ActionCallRequest) async -> ActionReply {
        stamps.withLock { $0.append(.now) }
        return .value("1.0.0")
    }

    func log(_ line: ActionLogLine) {}
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func report(_ metric: String, _ samples: [Double], unit: String) {
    print("{\"metric\": \"\(metric)\", \"unit\": \"\(unit)\", \"samples\": [\(samples.map { String($0) }.joined(separator: ","))]}")
}

@main
struct ActionHostProbe {
    static func main() async throws {
        guard CommandLine.arguments.count == 2 else {
            FileHandle.standardError.write(Data("usage: ActionHostProbe DRIVER_DIR\n".utf8))
            exit(2)
        }
        let directory = CommandLine.arguments[1]
        let environment = ProcessInfo.processInfo.environment
        let interpreter = try PythonInterpreter.resolve(environment: environment, cacheFile: NSTemporaryDirectory() + "flowrunner-bench-python.json")
        let runner = ActionRunner(interpreter: interpreter, pythonDirectory: try HostResources.pythonDirectory(environment: environment), environment: environment)
        func invocation(_ function: String, count: Int = 0) -> ActionInvocation {
            ActionInvocation(action: function, driverDirectory: directory, file: "actions.py", function: function,
                             arguments: ["context": ["deployment": ["id": "bench"]], "parameters": ["count": .int(count)]])
        }

        var coldStarts: [Double] = []
        for index in 0..<21 {
            let handler = TimingHandler()
            let start = ContinuousClock.now
            let outcome = await runner.run(invocation("first_call"), handler: handler)
            guard outcome.status == .succeeded, let first = handler.stamps.withLock({ $0.first }) else {
                FileHandle.standardError.write(Data("first_call failed: \(String(describing: outcome.error))\n".utf8))
                exit(1)
            }
            if index > 0 { coldStarts.append(microseconds(first - start) / 1000) }
        }
        report("host cold start (spawn to first primitive call)", coldStarts, unit: "ms")

        let handler = TimingHandler()
        let start = ContinuousClock.now
        let outcome = await runner.run(invocation("many_calls", count: 10_000), handler: handler)
        let total = ContinuousClock.now - start
        guard outcome.status == .succeeded else {
            FileHandle.standardError.write(Data("many_calls failed: \(String(describing: outcome.error))\n".utf8))
            exit(1)
        }
        let stamps = handler.stamps.withLock { $0 }
        let gaps = zip(stamps.dropFirst(), stamps).map { microseconds($0 - $1) }
        report("primitive round trip through the bridge (no cluster work)", gaps, unit: "us")
        report("10,000 primitive calls in one action (whole action)", [microseconds(total) / 1e6], unit: "s")
    }
}
