import ActionHost
import FlowModel
import FlowRunner
import Foundation
import StateStore
import Synchronization
import Testing

/// The end of an executed step is written while the action goes on, with
/// the journal's next record or on its own a moment later (``StepJournal``'s
/// write-behind): a lost end must still stop the action, and every end is
/// stored before the action's own end.
@Suite("Step ends written while the action goes on")
struct StepEndTests {
    /// A harness on a real SQLite file in a fresh directory (removed by the
    /// caller), with deployment `app` installed.
    static func sqliteHarness() async throws -> (EngineHarness, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowrunner-step-ends-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/state.sqlite"
        let harness = try EngineHarness { clock in try SQLiteStateStore(path: path, clock: clock) }
        try await harness.deploy()
        return (harness, directory)
    }

    /// Makes every write of an end (`status`: succeeded or failed) of a
    /// `name` step fail, as a full disk would: a trigger added from another
    /// connection (Python's sqlite3).
    static func failEnds(of name: String, status: String = "succeeded", in directory: String) throws {
        try addTrigger("CREATE TRIGGER lose_end BEFORE UPDATE OF status ON steps WHEN NEW.name = '\(name)' AND NEW.status = '\(status)' "
            + "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END", in: directory)
    }

    /// Runs `sql` (a trigger) on the harness's database from another connection (Python's sqlite3).
    static func addTrigger(_ sql: String, in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                             directory + "/state.sqlite", sql]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    static func actionError(_ harness: EngineHarness, _ run: RecordID) async throws -> JSONValue? {
        let action = try await harness.store.actionRuns(runID: run).first { $0.name == "upgrade" }
        return JSONValue(storedText: action?.errorJSON)
    }

    @Test("a step whose end cannot be written fails the action at its next call, which does not run")
    func lostEndStopsTheNextCall() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
                _ = try await action.call("stop_components", ["components": ["api"]])
            }
        }
        try Self.failEnds(of: "get_deployment_version", in: directory)
        let run = try await harness.upgrade()
        #expect(run.status == .failed)
        let error = try await Self.actionError(harness, run.id)
        #expect(error?["type"]?.stringValue == "EngineError", "\(String(describing: error))")
        let message = error?["message"]?.stringValue ?? ""
        #expect(message.contains("the end of step 1 (get_deployment_version) was not recorded") && message.contains("disk full (test)"), "\(message)")
        let steps = try await harness.steps(run.id)
        #expect(steps.map(\.name) == ["get_deployment_version"], "stop_components was neither recorded nor run: \(steps.map(\.name))")
        #expect(steps.first?.status == .running, "a retry executes it again")
    }

    @Test("a lost end of the action's last step fails the action")
    func lostLastEnd() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
            }
        }
        try Self.failEnds(of: "get_deployment_version", in: directory)
        let run = try await harness.upgrade()
        #expect(run.status == .failed)
        let message = try await Self.actionError(harness, run.id)?["message"]?.stringValue ?? ""
        #expect(message.contains("cannot record the end of its steps") && message.contains("disk full (test)"), "\(message)")
    }

    @Test("after a step whose end was lost, a call that would replay fails too (nothing goes past it)")
    func replayAfterLostEnd() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Attempt 1 is cut off (its host crashed) after a failed call and a good one: attempt 2 matches
        // calls by occurrence, runs the failed one again and would replay the good one after it.
        harness.runner.script("upgrade") { action in
            _ = try? await action.call("get_deployment_version")
            _ = try? await action.call("stop_components", ["components": ["nope"]])
            _ = try? await action.call("get_component_images", ["component": "api"])
            return .failed("HostCrashed", "the Python host was killed by signal 9")
        }
        let crashed = try await harness.upgrade()
        #expect(crashed.status == .failed)
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
                _ = try? await action.call("stop_components", ["components": ["nope"]])
                _ = try await action.call("get_component_images", ["component": "api"])
            }
        }
        try Self.failEnds(of: "stop_components", status: "failed", in: directory)
        _ = try await harness.engine.requestRetry(runID: crashed.id)
        let done = try await harness.scheduler().work(runID: crashed.id)
        #expect(done.status == .failed)
        let message = try await Self.actionError(harness, crashed.id)?["message"]?.stringValue ?? ""
        #expect(message.contains("the end of step 2 (stop_components) was not recorded"), "\(message)")
        #expect(try await harness.attemptSteps(crashed.id, attempt: 2) == ["get_deployment_version (replayed)", "stop_components"])
    }

    @Test("a task's end after a step whose end was lost fails the task's call, and the task step is closed")
    func taskEndAfterLostEnd() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let taskEnd = Mutex<String?>(nil)
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                do throws(ActionError) {
                    _ = try await action.task("prepare") { () async throws(ActionError) in try await action.call("get_deployment_version") }
                } catch {
                    taskEnd.withLock { $0 = error.message }
                    throw error
                }
            }
        }
        try Self.failEnds(of: "get_deployment_version", in: directory)
        let run = try await harness.upgrade()
        #expect(run.status == .failed)
        #expect(taskEnd.withLock { $0 }?.contains("the end of step 2 (get_deployment_version) was not recorded") == true,
                "\(taskEnd.withLock { $0 } ?? "no error")")
        let steps = try await harness.steps(run.id)
        let task = steps.first { $0.name == "prepare" }
        #expect(task?.status == .failed && task?.endedAt != nil, "closed at the action's end: \(String(describing: task))")
    }

    @Test("an end that no later record carries is stored on its own while the action goes on")
    func endStoredWhileTheActionWaits() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runID = Mutex<RecordID?>(nil)
        let seen = Mutex<StepStatus?>(nil)
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
                // No record follows for up to 10 s: the end must not wait for the action's end.
                for _ in 0..<500 {
                    if let id = runID.withLock({ $0 }), let step = try? await harness.steps(id).first, step.status != .running {
                        seen.withLock { $0 = step.status }
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        runID.withLock { $0 = run.id }
        let done = try await harness.scheduler().work(runID: run.id)
        #expect(done.status == .succeeded, "\(done.errorJSON ?? "")")
        #expect(seen.withLock { $0 } == .succeeded, "the step's end was not stored while the action went on")
    }

    @Test("a record that fails for its own reason keeps the end it carried: the next record stores it")
    func endKeptAfterAnotherFailure() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
                // Its record is refused (with the end it carries); the action goes on.
                _ = try? await action.call("stop_components", ["components": ["api"]])
                _ = try await action.call("get_component_images", ["component": "api"])
            }
        }
        try Self.addTrigger("CREATE TRIGGER refuse_stop BEFORE INSERT ON steps WHEN NEW.name = 'stop_components' "
            + "BEGIN SELECT RAISE(ABORT, 'refused (test)'); END", in: directory)
        let run = try await harness.upgrade()
        #expect(run.status == .succeeded, "\(run.errorJSON ?? "")")
        let steps = try await harness.steps(run.id)
        #expect(steps.map(\.name) == ["get_deployment_version", "get_component_images"])
        #expect(steps.allSatisfy { $0.status == .succeeded }, "\(steps.map(\.status))")
    }

    @Test("every end is stored when the action has ended")
    func endsStoredByTheEnd() async throws {
        let (harness, directory) = try await Self.sqliteHarness()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                for index in 0..<200 {
                    _ = try await index % 2 == 0 ? action.call("get_deployment_version") : action.call("get_component_images", ["component": "api"])
                }
                _ = try await action.task("last") { "done" }
            }
        }
        let run = try await harness.upgrade()
        #expect(run.status == .succeeded, "\(run.errorJSON ?? "")")
        let steps = try await harness.steps(run.id)
        #expect(steps.count == 201)
        #expect(steps.allSatisfy { $0.status == .succeeded && $0.endedAt != nil }, "\(steps.filter { $0.status != .succeeded }.map(\.seq))")
    }
}
