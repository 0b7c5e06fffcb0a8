import Foundation
import Testing

@Suite("What an operator is told: versions, retry hints, empty logs, jobs given up on")
struct OperatorHintsTests {
    @Test("flowrunner --version names the release")
    func version() async throws {
        let result = try await FlowRunnerBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("flowrunner "), "\(result.stdout)")
    }

    @Test("execute_commands(timeout=) that gives up deletes its job: a retry's job never runs beside it")
    func commandTimeoutDeletesJob() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 30}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        try await workspace.deployTestbed("ct", behaviour: "command-timeout")
        let failed = try await workspace.run(["upgrade", "ct", "--to", "1.1.0", "--fixture", fixture])
        #expect(failed.status == 1)
        let report = try await workspace.runShow(2)
        let message = (report["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("did not finish within 1 s"), "\(message)")
        #expect(message.contains("was deleted"), "\(message)")
        #expect(try await workspace.jobCount("ct") == 0, "the job given up on is gone")
    }

    @Test("a failed run's hint names --driver-version latest once a newer driver version is loaded; a cancelled run gets a hint")
    func retryHints() async throws {
        let workspace = Workspace()
        try await workspace.deployTestbed("rh", behaviour: "fail-after-two", marker: "cause", markerExists: true)
        let failed = try await workspace.run(["upgrade", "rh", "--to", "1.1.0"])
        #expect(failed.stdout.contains("retry: flowrunner runs retry 2"), "\(failed.stdout)")
        #expect(!failed.stdout.contains("--driver-version"))

        let newer = workspace.exchange + "/testbed-v2"
        try FileManager.default.copyItem(atPath: testbed, toPath: newer)
        try? FileManager.default.removeItem(atPath: newer + "/__pycache__")
        try "\n# version 2\n".appendLine(toFile: newer + "/actions.py")
        #expect(try await workspace.run(["drivers", "load", newer]).status == 0)
        let shown = try await workspace.run(["runs", "show", "2"])
        #expect(shown.stdout.contains("retry: flowrunner runs retry 2 --driver-version latest"), "\(shown.stdout)")
        #expect(shown.stdout.contains("version 2 is loaded"))
    }

    @Test("a traceback names the author's file in the directory the driver was loaded from, not the stored copy")
    func tracebackAtAuthorsFile() async throws {
        let workspace = Workspace()
        let source = workspace.exchange + "/testbed-source"
        try FileManager.default.copyItem(atPath: testbed, toPath: source)
        try? FileManager.default.removeItem(atPath: source + "/__pycache__")
        #expect(try await workspace.run(["drivers", "load", source]).status == 0)
        let marker = workspace.exchange + "/cause"
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
        try await workspace.run(["deploy", "tb", "--driver", "testbed", "--app-version", "1.0.0", "--param", "behaviour=fail-after-two", "--param", "marker=\(marker)"])
        #expect(try await workspace.run(["upgrade", "tb", "--to", "1.1.0"]).status == 1)
        let action = (try await workspace.runShow(2)["actions"] as? [[String: Any]])?.first
        let traceback = (action?["error"] as? [String: Any])?["traceback"] as? String ?? ""
        let resolved = URL(fileURLWithPath: source).resolvingSymlinksInPath().path
        #expect(traceback.contains("File \"\(resolved)/actions.py\", line"), "\(traceback)")
        #expect(!traceback.contains("/drivers/"), "the stored copy is not named: \(traceback)")
    }

    @Test("runs logs of a run without lines says so")
    func emptyLogs() async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "el", "--driver", "testbed", "--app-version", "1.0.0"])
        let logs = try await workspace.run(["runs", "logs", "1"])
        #expect(logs.status == 0)
        #expect(logs.stderr.contains("run 1 has no log lines"), "\(logs.stderr)")
    }
}

extension String {
    /// Appends `self` to the file at `path`.
    func appendLine(toFile path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}

@Suite("Live progress of long steps")
struct LongStepProgressTests {
    @Test("a long step says it still runs, with its elapsed time, when stdout is not a terminal")
    func stillRunning() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/slow.yaml"
        try "commands:\n  - {match: \"migrate*\", duration: 3}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        try await workspace.deployTestbed("lp", behaviour: "ok")
        let result = try await FlowRunnerBinary.run(["upgrade", "lp", "--to", "1.1.0", "--fixture", fixture],
                                                    environment: workspace.environment.merging(["FLOWRUNNER_PROGRESS_SECONDS": "1"]) { $1 })
        #expect(result.status == 0)
        #expect(result.stdout.contains("… 2 still running ("), "\(result.stdout)")
    }
}

@Suite("A job's output in the run's logs")
struct JobOutputLogTests {
    @Test("each line of a job's output is a log line of the run, named after the job")
    func jobOutput() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/output.yaml"
        try "commands:\n  - {match: \"migrate*\", output: \"migrated 3 tables\\nschema at v7\"}\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        try await workspace.deployTestbed("jo", behaviour: "ok")
        #expect(try await workspace.run(["upgrade", "jo", "--to", "1.1.0", "--fixture", fixture]).status == 0)
        let logs = try await workspace.run(["runs", "logs", "2"]).stdout
        #expect(logs.contains("job/fr-2-upgrade-2-a1: migrated 3 tables"), "\(logs)")
        #expect(logs.contains("job/fr-2-upgrade-2-a1: schema at v7"))
    }
}
