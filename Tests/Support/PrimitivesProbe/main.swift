// Measures each primitive on the simulated cluster, with its state in a
// real state store (as `flowrunner deploy`/`upgrade` use it), for bench/.
// Prints one JSON object per primitive.
//
//   PrimitivesProbe DRIVER_DIR STATE_FILE
import DriverSpec
import FlowModel
import Foundation
import Primitives
import StateStore

@main
struct PrimitivesProbe {
    static func main() async throws {
        guard CommandLine.arguments.count == 3 else {
            FileHandle.standardError.write(Data("usage: PrimitivesProbe DRIVER_DIR STATE_FILE\n".utf8))
            exit(2)
        }
        guard let spec = try DriverLoader.load(directory: CommandLine.arguments[1]).specification else {
            FileHandle.standardError.write(Data("the driver is invalid\n".utf8))
            exit(1)
        }
        let store = try SQLiteStateStore(path: CommandLine.arguments[2])
        let cluster = SimulatedCluster(storage: StateStoreClusterStorage(store: store, deployment: "bench"))
        try await cluster.install(spec: spec, version: "0.1.0", values: nil)
        let component = spec.components.first?.name ?? "server"
        let calls: [(String, JSONValue)] = [
            ("stop_components", ["components": [.string(component)]]),
            ("start_components", ["components": [.string(component)]]),
            ("restart_components", ["components": [.string(component)]]),
            ("wait_for_components", ["components": [.string(component)]]),
            ("execute_commands", ["commands": ["migrate"], "env_from_component": .string(component)]),
            ("upgrade_deployment_version", ["target_version": "0.2.0"]),
            ("get_component_images", ["component": .string(component)]),
            ("get_deployment_version", [:]),
        ]
        var job = 0
        for (name, arguments) in calls {
            var samples: [Double] = []
            for round in 0..<400 {
                job += 1
                let environment = PrimitiveEnvironment(deployment: "bench", spec: spec, cluster: cluster, jobName: "fr-bench-\(job)")
                // Alternate so that stop/start/upgrade do real work each time.
                if name == "start_components" {
                    _ = try await PrimitiveCatalogue.execute(name: "stop_components", arguments: arguments, in: environment)
                }
                let target: JSONValue = round % 2 == 0 ? ["target_version": "0.2.0"] : ["target_version": "0.1.0"]
                let start = ContinuousClock.now
                _ = try await PrimitiveCatalogue.execute(name: name, arguments: name == "upgrade_deployment_version" ? target : arguments, in: environment)
                let elapsed = ContinuousClock.now - start
                if name == "stop_components" {
                    _ = try await PrimitiveCatalogue.execute(name: "start_components", arguments: arguments, in: environment)
                }
                samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
            }
            print("{\"metric\": \"primitive \(name) (simulated, with state-store write)\", \"unit\": \"us\", \"samples\": [\(samples.map { String($0) }.joined(separator: ","))]}")
        }
    }
}
