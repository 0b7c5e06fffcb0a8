import ActionHost
import FlowModel
import FlowRunner
import Foundation
import Scheduler
import StateStore
import Synchronization
import Testing

/// A worker acts for a run only while its lease certainly holds: calls made
/// after that are refused before anything is recorded or run.
@Suite("Lease fence")
struct LeaseFenceTests {
    @Test("a fence holds for nine tenths of the lease from when it was asked for; renewals extend it, never back; revoked stays revoked")
    func holdsForTheLease() {
        let lease = Duration.seconds(30)
        #expect(LeaseFence(askedAt: .now - .seconds(20), leaseDuration: lease).isHeld)
        let stale = LeaseFence(askedAt: .now - .seconds(28), leaseDuration: lease)
        #expect(!stale.isHeld, "27 s of a 30 s lease are usable")
        stale.renewed(askedAt: .now)
        #expect(stale.isHeld)
        stale.renewed(askedAt: .now - .seconds(100))
        #expect(stale.isHeld, "an older renewal does not move the end back")
        let stopped = Mutex(0)
        stale.whenLost { stopped.withLock { $0 += 1 } }
        stale.revoke("lost for a test")
        stale.revoke("lost again")
        #expect(!stale.isHeld && stale.lossReason == "lost for a test" && stopped.withLock { $0 } == 1)
        stale.renewed(askedAt: .now)
        #expect(!stale.isHeld, "a lost lease is not held again")
        stale.whenLost { stopped.withLock { $0 += 1 } }
        #expect(stopped.withLock { $0 } == 2, "told at once when already lost")
    }

    @Test("a fence that has run out asks the store: a renewed lease opens it again; a refusal, or no answer, loses it for good")
    func runOutFenceAsksTheStore() async {
        let answers = Mutex<[Result<Bool, StateStoreError>]>([.success(true), .failure(StateStoreError(.busy, location: "test", "down")), .success(false)])
        let asked = Mutex(0)
        func fence() -> LeaseFence {
            LeaseFence(askedAt: .now - .seconds(60), leaseDuration: .seconds(30)) { () async throws(StateStoreError) in
                asked.withLock { $0 += 1 }
                return try answers.withLock { $0.removeFirst() }.get()
            }
        }
        let paused = fence()
        #expect(!paused.isHeld)
        #expect(await paused.holdsOrRenews(runID: 3), "the store renewed it: a paused worker whose run nobody took goes on")
        #expect(paused.isHeld && asked.withLock { $0 } == 1)
        #expect(await paused.holdsOrRenews(runID: 3) && asked.withLock { $0 } == 1, "held: the store is not asked")

        let unanswered = fence()
        #expect(await !unanswered.holdsOrRenews(runID: 3))
        #expect(unanswered.lossReason?.contains("cannot renew it now") == true, "\(unanswered.lossReason ?? "")")
        let taken = fence()
        #expect(await !taken.holdsOrRenews(runID: 3))
        #expect(taken.lossReason?.contains("run 3 was lost") == true)
        #expect(await !taken.holdsOrRenews(runID: 3), "lost: not asked again")
        #expect(await !unanswered.holdsOrRenews(runID: 3), "lost: not asked again")
        #expect(asked.withLock { $0 } == 3 && answers.withLock { $0.isEmpty })
    }

    @Test("once the lease is lost the action's next call, primitive or task, is refused and recorded nowhere")
    func callsRefusedAfterTheLease() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        let owner = LeaseOwner(role: "test", processID: 1, host: "test-host")
        let fence = LeaseFence(askedAt: .now, leaseDuration: .seconds(30))
        let refused = Mutex<[String]>([])
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                _ = try await action.call("get_deployment_version")
                fence.revoke("taken over in a test")
                for call in ["stop_components", "task"] {
                    do throws(ActionError) {
                        if call == "task" {
                            _ = try await action.task("backup") { .null }
                        } else {
                            _ = try await action.call(call, ["components": ["server"]])
                        }
                    } catch {
                        refused.withLock { $0.append("\(call): \(error.type)") }
                    }
                }
                throw ActionError(type: "RuntimeError", message: "gave up")
            }
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let claimed = try #require(try await harness.store.claimNextRun(owner: owner, leaseDuration: .seconds(30), runID: run.id))
        _ = try await harness.engine.runAttempt(claimed, owner: owner, lease: fence)
        #expect(refused.withLock { $0 } == ["stop_components: LeaseLost", "task: LeaseLost"])
        #expect(try await harness.attemptSteps(run.id, attempt: 1) == ["get_deployment_version"])
    }

    @Test("the heartbeat's renewals keep the fence open for an action that outlives its first lease")
    func renewalsKeepTheFenceOpen() async throws {
        let harness = try EngineHarness.make()
        try await harness.deploy()
        harness.runner.script("upgrade") { action in
            await .of { () async throws(ActionError) in
                // Six seconds of calls under a 3 s lease (2.7 s usable without a renewal).
                for _ in 0..<12 {
                    _ = try await action.call("get_deployment_version")
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        let run = try await harness.engine.requestUpgrade(deployment: "app", targetVersion: "1.1.0")
        let done = try await harness.scheduler(lease: .seconds(3)).work(runID: run.id)
        #expect(done.status == .succeeded, "\(done.errorJSON ?? "")")
        #expect(try await harness.attemptSteps(run.id, attempt: 1).count == 12)
    }
}
