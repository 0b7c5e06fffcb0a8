// A separate process that drives the StateStore, for the tests that need a
// second process (concurrent claims, SIGKILL mid-write) and for bench/.
//
//   StateStoreProbe seed DB DEPLOYMENTS RUNS        create RUNS queued runs over DEPLOYMENTS deployments
//   StateStoreProbe claim DB OWNER                  claim and finish runs until none is left; print "claimed ID"
//   StateStoreProbe write-steps DB COUNT            record COUNT steps; print "step SEQ" after each write returned
//   StateStoreProbe bench DB                        print timing measurements as JSON lines
//   StateStoreProbe step-bench DB LABEL             time recording steps (begin + finish); one JSON line
//   StateStoreProbe list-bench DB LABEL             time runs list (newest 50, and by deployment and status); JSON lines
//
// DB is a SQLite file, or a postgres:// URL (seed, claim, write-steps, step-bench, list-bench).
import Foundation
import PostgresStateStore
import StateStore

@main
struct StateStoreProbe {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            switch arguments.first {
            case "seed" where arguments.count == 4:
                try await seed(path: arguments[1], deployments: Int(arguments[2]) ?? 1, runs: Int(arguments[3]) ?? 1)
            case "claim" where arguments.count == 3:
                try await claim(path: arguments[1], owner: arguments[2])
            case "write-steps" where arguments.count == 3:
                try await writeSteps(path: arguments[1], count: Int(arguments[2]) ?? 0)
            case "bench" where arguments.count == 2:
                try await bench(path: arguments[1])
            case "step-bench" where arguments.count == 3:
                try await stepBench(location: arguments[1], label: arguments[2])
            case "list-bench" where arguments.count == 3:
                try await listBench(location: arguments[1], label: arguments[2])
            default:
                FileHandle.standardError.write(Data("usage: StateStoreProbe seed|claim|write-steps|bench|step-bench|list-bench DB ...\n".utf8))
                exit(2)
            }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(1)
        }
    }

    /// A driver version and `count` deployments named d0, d1, ...
    static func deployments(_ store: any StateStore, count: Int) async throws -> [DeploymentRecord] {
        let version = try await store.storeDriverVersion(driver: "probe", specVersion: "1", digest: "probe", files: []).record
        var result: [DeploymentRecord] = []
        for index in 0..<count {
            if let existing = try await store.deployment(named: "d\(index)") {
                result.append(existing)
            } else {
                result.append(try await store.createDeployment(NewDeployment(name: "d\(index)", driver: "probe", driverVersionID: version.id, appVersion: "1.0", cluster: "simulated")))
            }
        }
        return result
    }

    /// The store at `location`: a `postgres://` URL, else a SQLite file.
    static func open(_ location: String) async throws -> any StateStore {
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return try await PostgresStateStore.open(url: location)
        }
        return try SQLiteStateStore(path: location)
    }

    static func seed(path: String, deployments count: Int, runs: Int) async throws {
        let store = try await open(path)
        let deployments = try await deployments(store, count: count)
        for index in 0..<runs {
            let deployment = deployments[index % deployments.count]
            _ = try await store.createRun(NewRun(deploymentID: deployment.id, hook: .setup, inputsJSON: "{}", contextJSON: "{}",
                                           driverVersionID: deployment.driverVersionID))
        }
    }

    static func claim(path: String, owner: String) async throws {
        let store = try await open(path)
        var idle = 0
        while idle < 50 {
            guard let run = try await store.claimNextRun(owner: LeaseOwner(role: owner, processID: getpid(), host: "probe"), leaseDuration: .seconds(30), runID: nil) else {
                // Runs may be blocked by another worker's running run of the same deployment.
                if try await store.runs(matching: RunFilter(status: .queued, limit: 1)).isEmpty { return }
                idle += 1
                usleep(1000)
                continue
            }
            idle = 0
            emit("claimed \(run.id)")
            usleep(200) // a worker does some work between transactions
            try await store.changeRunStatus(id: run.id, to: .succeeded)
        }
    }

    static func writeSteps(path: String, count: Int) async throws {
        let store = try await open(path)
        let deployment = try await deployments(store, count: 1)[0]
        let run = try await store.createRun(NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}",
                                             driverVersionID: deployment.driverVersionID)).record
        let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
        emit("action \(action.id)")
        let payload = String(repeating: "x", count: 200)
        for seq in 1...max(1, count) {
            let id = try await store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: .primitive, name: "stop_components",
                                                 argsJSON: "{\"components\":[\"server\"],\"pad\":\"\(payload)\"}", argsDigest: "d\(seq)"))
            try await store.finishStep(id: id, status: .succeeded, resultJSON: "{\"seq\":\(seq)}", errorJSON: nil)
            emit("step \(seq)")
        }
    }

    static func bench(path: String) async throws {
        let store = try SQLiteStateStore(path: path)
        let deployment = try await deployments(store, count: 1)[0]
        report("record a step (begin + finish)", try await stepSamples(store, deployment), unit: "us")

        // Database size per 10-step run, with 10 log lines.
        try store.checkpoint()
        let sizeBefore = try fileSize(path)
        let sampleRuns = 200
        for _ in 0..<sampleRuns {
            let run = try await store.createRun(NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: "{\"target_version\":\"0.2.0\"}",
                                                 contextJSON: String(repeating: "c", count: 600), driverVersionID: deployment.driverVersionID)).record
            let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
            for seq in 1...10 {
                let id = try await store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: .primitive, name: "execute_commands",
                                                     argsJSON: "{\"commands\":[\"my-app-upgrade\"],\"image\":\"my-app:0.2.0\"}", argsDigest: String(repeating: "f", count: 64)))
                try await store.finishStep(id: id, status: .succeeded, resultJSON: "{\"exit_codes\":[0],\"output\":\"\"}", errorJSON: nil)
            }
            try await store.appendLogs((0..<10).map { NewLogLine(runID: run.id, action: "upgrade", attempt: 1, level: .info, logger: "stdout", message: "log line number \($0) of the action") })
            try await store.changeRunStatus(id: run.id, to: .running)
            try await store.changeRunStatus(id: run.id, to: .succeeded)
        }
        try store.checkpoint()
        report("database size per 10-step run (10 log lines)", [Double(try fileSize(path) - sizeBefore) / Double(sampleRuns) / 1024], unit: "KiB")

        // runs list: newest 50 of 100,000.
        let existing = try await store.runs(matching: RunFilter(limit: 1_000_000)).count
        for index in existing..<100_000 {
            let run = try await store.createRun(NewRun(deploymentID: deployment.id, hook: index % 2 == 0 ? .setup : .upgrade, inputsJSON: "{}",
                                                 contextJSON: "{}", driverVersionID: deployment.driverVersionID)).record
            try await store.changeRunStatus(id: run.id, to: .running)
            try await store.changeRunStatus(id: run.id, to: index % 3 == 0 ? .failed : .succeeded)
        }
        try await reportLists(store, of: "100,000")
    }

    /// `step-bench`: step recording on any store, labelled (`SQLite`, `PostgreSQL`).
    static func stepBench(location: String, label: String) async throws {
        let store = try await open(location)
        let deployment = try await deployments(store, count: 1)[0]
        report("record a step (begin + finish), \(label)", try await stepSamples(store, deployment), unit: "us")
    }

    /// `list-bench`: runs list on a store already holding many runs (bench/ seeds them), labelled with how many.
    static func listBench(location: String, label: String) async throws {
        try await reportLists(try await open(location), of: label)
    }

    /// 2,000 steps recorded (insert at start + update at end), microseconds each.
    static func stepSamples(_ store: any StateStore, _ deployment: DeploymentRecord) async throws -> [Double] {
        let run = try await store.createRun(NewRun(deploymentID: deployment.id, hook: .upgrade, inputsJSON: "{}", contextJSON: "{}",
                                             driverVersionID: deployment.driverVersionID)).record
        let action = try await store.planActionRuns(runID: run.id, actions: [("upgrade", .core)])[0]
        var samples: [Double] = []
        for seq in 1...2000 {
            samples.append(try await measure {
                let id = try await store.beginStep(NewStep(actionRunID: action.id, attempt: 1, seq: seq, kind: .primitive, name: "stop_components",
                                                     argsJSON: "{\"components\":[\"server\"]}", argsDigest: "abc"))
                try await store.finishStep(id: id, status: .succeeded, resultJSON: "{\"stopped\":[\"server\"]}", errorJSON: nil)
            })
        }
        return samples
    }

    /// Times the newest 50 runs, and the newest 50 succeeded runs of `d0`, 200 times each, in milliseconds.
    static func reportLists(_ store: any StateStore, of count: String) async throws {
        var listSamples: [Double] = []
        for _ in 0..<200 {
            listSamples.append(try await measure { _ = try await store.runs(matching: RunFilter(limit: 50)) } / 1000)
        }
        report("runs list, newest 50 of \(count)", listSamples, unit: "ms")
        var filteredSamples: [Double] = []
        for _ in 0..<200 {
            filteredSamples.append(try await measure { _ = try await store.runs(matching: RunFilter(deployment: "d0", status: .succeeded, limit: 50)) } / 1000)
        }
        report("runs list --deployment --status, newest 50 of \(count)", filteredSamples, unit: "ms")
    }

    /// Microseconds `body` took.
    static func measure(_ body: () async throws -> Void) async rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try await body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
    }

    /// One JSON row for bench/.
    static func report(_ name: String, _ samples: [Double], unit: String) {
        emit("{\"metric\": \"\(name)\", \"unit\": \"\(unit)\", \"samples\": [\(samples.map { String($0) }.joined(separator: ","))]}")
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
