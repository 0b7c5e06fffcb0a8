import ActionHost
import FlowModel
import Testing

/// The long-lived renderer `serve` keeps: one process answers many
/// requests, each with the limits of a one-off render.
@Suite("A long-lived values renderer")
struct ValuesRenderWorkerTests {
    func worker() -> ValuesRenderWorker {
        ValuesRenderWorker(interpreter: HostFixtures.runner.interpreter, pythonDirectory: HostFixtures.runner.pythonDirectory)
    }

    @Test("concurrent requests each get their own answer; faults name the template's line")
    func answersInTurn() async throws {
        let worker = worker()
        defer { Task { await worker.shutdown() } }
        let outcomes = try await withThrowingTaskGroup(of: (Int, ValuesTemplate.Outcome).self) { group in
            for index in 0..<20 {
                group.addTask {
                    (index, try await worker.render("n: {{ n }}\n", file: "values.j2.yml", context: ["n": .int(index)], cacheDirectory: nil))
                }
            }
            return try await group.reduce(into: [Int: ValuesTemplate.Outcome]()) { $0[$1.0] = $1.1 }
        }
        for index in 0..<20 {
            #expect(outcomes[index] == .rendered("n: \(index)\n"))
        }
        let undefined = try await worker.render("a: 1\nb: {{ nope }}\n", file: "values.j2.yml", context: [:], cacheDirectory: nil)
        guard case .failed(let message, let line, false) = undefined else {
            Issue.record("expected a failure: \(undefined)")
            return
        }
        #expect(message.contains("'nope' is undefined") && line == 2)
    }

    @Test("a worker started early answers its first request; one stopped after use starts again for the next")
    func prewarmedAndStopped() async throws {
        let worker = worker()
        defer { Task { await worker.shutdown() } }
        await worker.prewarm()
        await worker.prewarm()  // already running: the same process
        for round in 0..<3 {
            let outcome = try await worker.render("round: {{ n }}\n", file: "values.j2.yml", context: ["n": .int(round)], cacheDirectory: nil)
            #expect(outcome == .rendered("round: \(round)\n"))
            await worker.shutdown()
        }
    }

    @Test("a worker that exits without an answer is the engine's failure, as for a one-off render, not the template's limits")
    func exitWithoutAnswer() async throws {
        let worker = ValuesRenderWorker(interpreter: PythonInterpreter(path: "/bin/false"), pythonDirectory: HostFixtures.runner.pythonDirectory)
        await worker.prewarm()
        do {
            let outcome = try await worker.render("a: 1\n", file: "values.j2.yml", context: [:], cacheDirectory: nil)
            Issue.record("expected a failure to render, got \(outcome)")
        } catch {
            #expect(error.code == .spawnFailed && error.reason.contains("failed (status 1) without an answer"), "\(error)")
        }
    }

    @Test("a template past the processor-time or memory limit is stopped, and the next request is answered")
    func limits() async throws {
        let worker = worker()
        defer { Task { await worker.shutdown() } }
        let loop = try await worker.render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                                           file: "values.j2.yml", context: [:], cacheDirectory: nil)
        guard case .failed(let message, _, _) = loop else {
            Issue.record("expected the limits to stop it: \(loop)")
            return
        }
        #expect(message.contains("stopped after using its limits"), "\(message)")
        #expect(try await worker.render("x: 1\n", file: "values.j2.yml", context: [:], cacheDirectory: nil) == .rendered("x: 1\n"))
        let huge = try await worker.render("{% set x = 'a' * 100000 %}{% for i in range(100000) %}{{ x }}{% endfor %}",
                                           file: "values.j2.yml", context: [:], cacheDirectory: nil)
        guard case .failed(let memory, _, _) = huge else {
            Issue.record("expected the memory limit to stop it: \(huge)")
            return
        }
        #expect(memory.contains("MiB"), "\(memory)")
        #expect(try await worker.render("y: 2\n", file: "values.j2.yml", context: [:], cacheDirectory: nil) == .rendered("y: 2\n"))
    }
}
