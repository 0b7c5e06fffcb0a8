// A separate process that drives the StateStore, for the tests that need a
// second process (concurrent claims, SIGKILL mid-write) and for bench/.
//
//   StateStoreProbe seed DB DEPLOYMENTS RUNS        create RUNS queued runs over DEPLOYMENTS deployments
//   StateStoreProbe claim DB OWNER                  claim and finish runs until none is left; print "claimed ID"
//   StateStoreProbe write-steps DB COUNT            record COUNT steps; print "step SEQ" after each write returned
//   StateStoreProbe bench DB                        print timing measurements as JSON lines
import Foundation
import StateStore

@main
struct StateStoreProbe {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            switch arguments.first {
            case "seed" where arguments.count == 4:
                try seed(path: arguments[1], deployments: Int(arguments[2]) ?? 1, runs: Int(arguments[3]) ?? 1)
            case "claim" where arguments.count == 3:
                try claim(path: arguments[1], owner: arguments[2])
            case "write-steps" where arguments.count == 3:
                try writeSteps(path: arguments[1], count: Int(arguments[2]) ?? 0)
            case "bench" where arguments.count == 2:
                try bench(path: arguments[1])
            default:
                FileHandle.standardError.write(Data("usage: StateStoreProbe seed|claim|write-steps|bench DB ...\n".utf8))
                exit(2)
            }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(1)
        }
    }

    /// A driver version and `count` deployments named d0, d1, ...
    static func deployments(_ store: StateStore, count: Int) throws -> [DeploymentRecord] {
        let version = try store.storeDriverVersion(driver: "probe", specVersion: "1", digest: "probe", files: []).record
        return try (0..<count).map { index in
            if let existing = try store.deployment(named: "d\(index)") { return existing }
            return try store.createDeployment(NewDeployment(name: "d\(index)", driver: "probe", driverVersionID: version.id, appVersion: "1.0"))
        }
    }

    static func seed(path: String, deployments count: Int, runs: Int) throws {
        let store = try StateStore(path: path)
        let deployments = try deployments(store, count: count)
        for index in 0..<runs {
            let deployment = deployments[index % deployments.count]
            _ = try store.createRun(NewRun(deploymentID: deployment.id, hook: "setup", inputsJSON: "{}", contextJSON: "{}",
                                           driverVersionID: deployment.driverVersionID))
        }
    }

    static func claim(path: String, owner: String) throws {
        let store = try StateStore(path: path)
        var idle = 0
        while idle < 50 {
            guard let run = try store.claimNextRun(owner: owner, leaseDuration: 30) else {
                // Runs may be blocked by another worker's running run of the same deployment.
                if try store.runs(matching: RunFilter(status: .queued, limit: 1)).isEmpty { return }
                idle += 1
                usleep(1000)
                continue
            }
            idle = 0
            emit("claimed \(run.id)")
            usleep(200) // a worker does some work between transactions
            try store.changeRunStatus(id: run.id, to: .succeeded)
        }
    }

    static func writeSteps(path: String, count: Int) throws {
        let store = try StateStore(path: path)
        let deployment = try deployments(store, count: 1)[0]
        let run = try store.createRun(NewRun(deploymentID: deployment.id, hook: "upgrade", inputsJSON: "{}", contextJSON: "{}",
                                             driverVersionID: deployment.driverVersionID)).record
        let action = try store.planActionRuns(runID: run.id, actions: [("upgrade", "core")])[0]
        emit("action \(action.id)")
        let payload = String(repeating: "x", count: 200)
        for seq in 1...max(1, count) {
            let id = try store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: "primitive", name: "stop_components",
                                                 argsJSON: "{\"components\":[\"server\"],\"pad\":\"\(payload)\"}", argsDigest: "d\(seq)"))
            try store.finishStep(id: id, status: .succeeded, resultJSON: "{\"seq\":\(seq)}")
            emit("step \(seq)")
        }
    }

    static func bench(path: String) throws {
        let store = try StateStore(path: path)
        let deployment = try deployments(store, count: 1)[0]
        func measure(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        }
        func report(_ name: String, _ samples: [Double], unit: String) {
            emit("{\"metric\": \"\(name)\", \"unit\": \"\(unit)\", \"samples\": [\(samples.map { String($0) }.joined(separator: ","))]}")
        }

        // Step recording: insert at start + update at end.
        let run = try store.createRun(NewRun(deploymentID: deployment.id, hook: "upgrade", inputsJSON: "{}", contextJSON: "{}",
                                             driverVersionID: deployment.driverVersionID)).record
        let action = try store.planActionRuns(runID: run.id, actions: [("upgrade", "core")])[0]
        var stepSamples: [Double] = []
        for seq in 1...2000 {
            stepSamples.append(try measure {
                let id = try store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: "primitive", name: "stop_components",
                                                     argsJSON: "{\"components\":[\"server\"]}", argsDigest: "abc"))
                try store.finishStep(id: id, status: .succeeded, resultJSON: "{\"stopped\":[\"server\"]}")
            })
        }
        report("record a step (begin + finish)", stepSamples, unit: "us")

        // Database size per 10-step run, with 10 log lines.
        try store.checkpoint()
        let sizeBefore = try fileSize(path)
        let sampleRuns = 200
        for _ in 0..<sampleRuns {
            let run = try store.createRun(NewRun(deploymentID: deployment.id, hook: "upgrade", inputsJSON: "{\"target_version\":\"0.2.0\"}",
                                                 contextJSON: String(repeating: "c", count: 600), driverVersionID: deployment.driverVersionID)).record
            let action = try store.planActionRuns(runID: run.id, actions: [("upgrade", "core")])[0]
            for seq in 1...10 {
                let id = try store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: "primitive", name: "execute_commands",
                                                     argsJSON: "{\"commands\":[\"my-app-upgrade\"],\"image\":\"my-app:0.2.0\"}", argsDigest: String(repeating: "f", count: 64)))
                try store.finishStep(id: id, status: .succeeded, resultJSON: "{\"exit_codes\":[0],\"output\":\"\"}")
            }
            try store.appendLogs((0..<10).map { NewLogLine(runID: run.id, action: "upgrade", attempt: 1, level: .info, logger: "stdout", message: "log line number \($0) of the action") })
            try store.changeRunStatus(id: run.id, to: .running)
            try store.changeRunStatus(id: run.id, to: .succeeded)
        }
        try store.checkpoint()
        report("database size per 10-step run (10 log lines)", [Double(try fileSize(path) - sizeBefore) / Double(sampleRuns) / 1024], unit: "KiB")

        // runs list: newest 50 of 100,000.
        let existing = try store.runs(matching: RunFilter(limit: 1_000_000)).count
        for index in existing..<100_000 {
            let run = try store.createRun(NewRun(deploymentID: deployment.id, hook: index % 2 == 0 ? "setup" : "upgrade", inputsJSON: "{}",
                                                 contextJSON: "{}", driverVersionID: deployment.driverVersionID)).record
            try store.changeRunStatus(id: run.id, to: .running)
            try store.changeRunStatus(id: run.id, to: index % 3 == 0 ? .failed : .succeeded)
        }
        var listSamples: [Double] = []
        for _ in 0..<200 {
            listSamples.append(try measure { _ = try store.runs(matching: RunFilter(limit: 50)) } / 1000)
        }
        report("runs list, newest 50 of 100,000", listSamples, unit: "ms")
        var filteredSamples: [Double] = []
        for _ in 0..<200 {
            filteredSamples.append(try measure { _ = try store.runs(matching: RunFilter(deployment: "d0", status: .succeeded, limit: 50)) } / 1000)
        }
        report("runs list --deployment --status, newest 50 of 100,000", filteredSamples, unit: "ms")
    }

    /// Writes a line straight to fd 1 (no buffering: a SIGKILL loses nothing printed).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func fileSize(_ path: String) throws -> Int {
        let main = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        return main + wal
    }
}
