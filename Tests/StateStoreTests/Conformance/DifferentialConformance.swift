import FlowModel
import Foundation
import PostgresStateStore
@testable import StateStore
import Testing

/// Both stores get the same long random sequence of operations, many of them
/// refused (unknown ids, illegal transitions, broken references), and must
/// give the same answer to each: the same records and ids, or the same error
/// code; at the end they must hold the same records.
@Suite("Conformance: both stores answer random operation sequences alike")
struct DifferentialConformance {
    @Test("the same operations give the same records, ids and error codes", arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func sameAnswers(seed: UInt64) async throws {
        let time = ManualTime(conformanceEpoch)
        let scratch = ScratchDatabase()
        let sqlite = try scratch.open(clock: .manual(time))
        let memory = InMemoryStateStore(clock: .manual(time))
        var random = SplitMix64(seed: seed)
        var hints = Hints()
        let setUp = Self.setUp
        for index in 0..<600 {
            let operation = index < setUp.count ? setUp[index] : Self.randomOperation(&random, time: time, hints: hints)
            let expected = await Outcome.of { try await operation.apply(sqlite) }
            let actual = await Outcome.of { try await operation.apply(memory) }
            #expect(actual == expected, "operation \(index), \(operation.name) (seed \(seed))")
            guard actual == expected else { break }
            hints.observe(expected)
            if random.next() % 3 == 0 { time.advance(by: Double(random.next() % 4)) }
        }
        let sqliteContents = try await Self.contents(of: sqlite)
        let memoryContents = try await Self.contents(of: memory)
        #expect(memoryContents == sqliteContents)
        #expect(try sqlite.integrityProblems().isEmpty)
        withExtendedLifetime(scratch) {}
    }

    /// The PostgreSQL store against the in-memory one (SQLite's double), with
    /// one difference left out: pruning, after which SQLite's row ids come
    /// back and PostgreSQL's sequences never do.
    @Test("PostgreSQL gives the same records, ids and error codes (pruning aside)",
          .enabled(if: PostgresTestServer.isConfigured), arguments: [1, 2, 3, 4] as [UInt64])
    func postgresAnswersAlike(seed: UInt64) async throws {
        let time = ManualTime(conformanceEpoch)
        let memory = InMemoryStateStore(clock: .manual(time))
        try await withFreshStore(.postgres) { postgres, postgresTime in
            var random = SplitMix64(seed: seed)
            var hints = Hints()
            let setUp = Self.setUp
            for index in 0..<600 {
                let operation = index < setUp.count ? setUp[index] : Self.randomOperation(&random, time: time, hints: hints, pruning: false)
                let expected = await Outcome.of { try await operation.apply(memory) }
                let actual = await Outcome.of { try await operation.apply(postgres) }
                #expect(actual == expected, "operation \(index), \(operation.name) (seed \(seed))")
                guard actual == expected else { break }
                hints.observe(expected)
                if random.next() % 3 == 0 {
                    let step = Double(random.next() % 4)
                    time.advance(by: step)
                    postgresTime.advance(by: step)
                }
            }
            let postgresContents = try await Self.contents(of: postgres)
            let memoryContents = try await Self.contents(of: memory)
            #expect(postgresContents == memoryContents)
        }
    }

    /// What a store answered: a value, or the code of the error it threw.
    enum Outcome: Hashable {
        case value(AnyHashable)
        case failure(String)

        static func of(_ body: () async throws -> AnyHashable) async -> Outcome {
            do {
                return .value(try await body())
            } catch let error as StateStoreError {
                return .failure(error.code.description)
            } catch {
                return .failure("not a StateStoreError: \(error)")
            }
        }
    }

    /// One operation, its arguments drawn already, to apply to each store.
    struct Operation {
        var name: String
        var apply: (any StateStore) async throws -> AnyHashable
    }

    /// The largest ids the stores handed out so far, so that operations
    /// mostly name records that exist (and sometimes ones that do not).
    struct Hints {
        var runs: RecordID = 0
        var actions: RecordID = 0
        var steps: RecordID = 0

        mutating func observe(_ outcome: Outcome) {
            guard case .value(let value) = outcome else { return }
            // Lists (of records, or a record and a flag) are looked at one by one.
            let values = (value.base as? [AnyHashable]) ?? [value]
            for value in values {
                switch value.base {
                case let run as RunRecord: runs = max(runs, run.id)
                case let action as ActionRunRecord: actions = max(actions, action.id)
                case let step as RecordID: steps = max(steps, step)
                default: break
                }
            }
        }
    }

    /// Driver versions and deployments to start from.
    static var setUp: [Operation] {
        let versions = [("d1", "a"), ("d2", "b")].map { driver, digest in
            Operation(name: "storeDriverVersion \(driver) \(digest)") {
                try await $0.storeDriverVersion(driver: driver, specVersion: "1", digest: digest, files: []).record
            }
        }
        let deployments = names.map { name in
            Operation(name: "createDeployment \(name)") {
                try await $0.createDeployment(NewDeployment(name: name, driver: "d1", driverVersionID: 1, appVersion: "1", cluster: "simulated"))
            }
        }
        return versions + deployments
    }

    static let names = ["p", "q", "r"]
    static let owners = [LeaseOwner.test("w1"), LeaseOwner.test("w2")]

    /// A random operation; without `pruning`, a read of one run stands for `pruneRuns`.
    static func randomOperation(_ random: inout SplitMix64, time: ManualTime, hints: Hints, pruning: Bool = true) -> Operation {
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        func id(_ upTo: Int) -> RecordID { RecordID(int(1...upTo)) }
        /// Mostly an id handed out already, sometimes the next one or one past it.
        func known(_ largest: RecordID) -> RecordID { RecordID(int(1...Int(largest) + 2)) }
        func coin() -> Bool { random.next() % 2 == 0 }
        func pick<T>(_ options: [T]) -> T { options[int(0...(options.count - 1))] }
        func later(_ upTo: Int) -> Date { time.now.addingTimeInterval(Double(int(0...upTo))) }
        func json() -> String? { coin() ? #"{"n":\#(int(0...9))}"# : nil }

        // New runs, claims and status changes are the most frequent, as in a real queue.
        let kinds = [0, 1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 6, 6, 6, 7, 7, 8, 9, 9, 9, 9, 10, 11, 12, 12,
                     13, 13, 14, 14, 14, 15, 15, 15, 16, 17, 17, 17, 18, 18, 19, 19, 20, 21, 22]
        let kind = pick(kinds)
        switch pruning || kind != 8 ? kind : 5 {
        case 0:
            let driver = pick(["d1", "d2"]), digest = pick(["a", "b", "c"])
            let files = pick([[], ["x.py"], ["y.py", "x.py", "__init__.py"], ["x.py", "x.py"]])
                .map { StoredDriverFile(path: $0, contents: Array($0.utf8.dropFirst(1))) }
            return Operation(name: "storeDriverVersion \(driver) \(digest) \(files.map(\.path))") { store in
                let (record, created) = try await store.storeDriverVersion(driver: driver, specVersion: "1", digest: digest, files: files)
                return AnyHashable([AnyHashable(record), AnyHashable(created)])
            }
        case 1:
            let new = NewDeployment(name: pick(names), driver: "d1", driverVersionID: id(4), appVersion: "1", cluster: "simulated")
            return Operation(name: "createDeployment \(new)") { try await $0.createDeployment(new) }
        case 2:
            let deployment = id(4), app = coin() ? "2" : nil, version = coin() ? id(5) : nil, parameters = json()
            return Operation(name: "updateDeployment \(deployment)") { store in
                try await store.updateDeployment(id: deployment, appVersion: app, driverVersionID: version, parametersJSON: parameters)
                return AnyHashable(try await store.deployment(id: deployment))
            }
        case 3:
            let new = NewRun(deploymentID: id(4), hook: .upgrade, inputsJSON: "{}", contextJSON: "{}", driverVersionID: id(3),
                             idempotencyKey: coin() ? pick(["k1", "k2"]) : nil, notBefore: coin() ? later(6) : nil)
            return Operation(name: "createRun \(new)") { store in
                let (record, created) = try await store.createRun(new)
                return AnyHashable([AnyHashable(record), AnyHashable(created)])
            }
        case 4:
            let filter = RunFilter(deployment: coin() ? pick(names + ["none"]) : nil, status: coin() ? pick(RunStatus.allCases) : nil,
                                   limit: int(-1...6))
            return Operation(name: "runs \(filter)") { try await $0.runs(matching: filter) }
        case 5:
            let run = known(hints.runs)
            return Operation(name: "run \(run)") { try await $0.run(id: run) }
        case 6:
            let run = known(hints.runs), next = pick(RunStatus.allCases), error = json(), notBefore = coin() ? later(4) : nil
            return Operation(name: "changeRunStatus \(run) \(next)") {
                try await $0.changeRunStatus(id: run, to: next, errorJSON: error, notBefore: notBefore)
            }
        case 7:
            let run = known(hints.runs), replay = json(), version = coin() ? id(5) : nil, notBefore = coin() ? later(4) : nil
            let owner = coin() ? pick(owners) : nil
            return Operation(name: "retryRun \(run) owner \(owner?.description ?? "-")") {
                try await $0.retryRun(id: run, replayJSON: replay, driverVersionID: version, notBefore: notBefore, abandonedOwner: owner)
            }
        case 8:
            let cutOff = time.now.addingTimeInterval(Double(-int(0...8)))
            return Operation(name: "pruneRuns \(cutOff)") { try await $0.pruneRuns(endedBefore: cutOff) }
        case 9:
            let owner = pick(owners), lease = Duration.seconds(int(-2...10)), run = coin() ? nil : Optional(known(hints.runs))
            return Operation(name: "claimNextRun \(owner) \(lease) \(run.map(String.init) ?? "any")") {
                try await $0.claimNextRun(owner: owner, leaseDuration: lease, runID: run)
            }
        case 10:
            let run = known(hints.runs), owner = pick(owners), lease = Duration.seconds(int(0...10))
            return Operation(name: "renewLease \(run) \(owner)") { try await $0.renewLease(runID: run, owner: owner, leaseDuration: lease) }
        case 11:
            return Operation(name: "runsWithExpiredLease") { try await $0.runsWithExpiredLease() }
        case 12:
            let run = known(hints.runs), owner = coin() ? pick(owners) : nil
            return Operation(name: "requeueExpiredRun \(run) \(owner?.description ?? "-")") {
                try await $0.requeueExpiredRun(id: run, abandonedOwner: owner)
            }
        case 13:
            let run = known(hints.runs)
            let actions = (0..<int(0...4)).map { _ in (name: pick(["a", "b", "c", "d"]), mode: pick([ActionMode.pre, .core])) }
            return Operation(name: "planActionRuns \(run) \(actions.map(\.name))") { try await $0.planActionRuns(runID: run, actions: actions) }
        case 14:
            let action = known(hints.actions), next = pick(ActionRunStatus.allCases), error = json()
            return Operation(name: "changeActionRunStatus \(action) \(next)") {
                try await $0.changeActionRunStatus(id: action, to: next, errorJSON: error)
            }
        case 15:
            let step = NewStep(actionRunID: known(hints.actions), attempt: int(1...2), seq: int(1...3), kind: .task, name: "t", argsJSON: "{}", argsDigest: "x")
            let divergence = json()
            return Operation(name: "beginStep \(step)") { try await $0.beginStep(step, divergenceJSON: divergence) }
        case 16:
            let steps = (0..<int(0...2)).map { _ in
                (step: NewStep(actionRunID: known(hints.actions), attempt: int(1...2), seq: int(1...3), kind: .task, name: "t", argsJSON: "{}", argsDigest: "x"),
                 resultJSON: json())
            }
            return Operation(name: "recordReplayedSteps \(steps.map(\.step))") { store in
                try await store.recordReplayedSteps(steps)
                return 0
            }
        case 17:
            let step = known(hints.steps), status = pick(StepStatus.allCases), result = json(), error = json()
            return Operation(name: "finishStep \(step) \(status)") { store in
                try await store.finishStep(id: step, status: status, resultJSON: result, errorJSON: error)
                return 0
            }
        case 18:
            let lines = (0..<int(0...3)).map { index in
                NewLogLine(runID: known(hints.runs), action: coin() ? "a" : nil, attempt: 1, time: time.now, level: pick(LogLevel.allCases),
                           logger: "stdout", message: "m\(index)")
            }
            return Operation(name: "appendLogs \(lines.map(\.runID))") { store in
                try await store.appendLogs(lines)
                return 0
            }
        case 19:
            let run = known(hints.runs), after = RecordID(int(0...30)), limit = int(-1...5)
            return Operation(name: "logs \(run) after \(after) limit \(limit)") { try await $0.logs(runID: run, afterID: after, limit: limit) }
        case 20:
            let deployment = pick(names), state = json() ?? "{}"
            let upserts = (0..<int(0...2)).map { _ in (name: pick(["j1", "j2", "j3"]), json: json() ?? "{}") }
            let deletes = (0..<int(0...2)).map { _ in pick(["j1", "j2", "j3"]) }
            return Operation(name: "saveSimulatedClusterState \(deployment) +\(upserts.map(\.name)) -\(deletes)") { store in
                try await store.saveSimulatedClusterState(deployment: deployment, stateJSON: state, upsertJobs: upserts, deleteJobs: deletes)
                let jobs = try await store.simulatedJobs(deployment: deployment)
                return AnyHashable([AnyHashable(jobs), AnyHashable(try await store.simulatedClusterState(deployment: deployment))])
            }
        case 22:
            let run = known(hints.runs), inputs = json() ?? "{}"
            return Operation(name: "refreezeRun \(run)") { try await $0.refreezeRun(id: run, inputsJSON: inputs, contextJSON: "{}") }
        default:
            let driver = pick(["d1", "d2"]), number = coin() ? int(1...4) : nil
            return Operation(name: "driverVersion \(driver) \(number.map(String.init) ?? "newest")") { store in
                try await store.driverVersion(driver: driver, number: number)
            }
        }
    }

    /// Everything a store holds that the protocol can read, ids up to the ranges the operations use.
    static func contents(of store: any StateStore) async throws -> [AnyHashable] {
        var contents: [AnyHashable] = [
            try await store.driverVersions(), try await store.deployments(),
            try await store.runs(matching: RunFilter(limit: 1000)), try await store.runsWithExpiredLease(),
        ]
        for id in RecordID(1)...10 { contents.append(try await store.driverFiles(versionID: id)) }
        for id in RecordID(1)...30 {
            contents.append(try await store.actionRuns(runID: id))
            contents.append(try await store.steps(actionRunID: id))
            contents.append(try await store.logs(runID: id))
            contents.append(try await store.attemptEnds(ofRun: id))
        }
        for name in names {
            contents.append(try await store.simulatedJobs(deployment: name))
            contents.append(try await store.simulatedClusterState(deployment: name))
        }
        return contents
    }
}

/// A small seeded random generator (SplitMix64), so every run of a seed draws the same operations.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
