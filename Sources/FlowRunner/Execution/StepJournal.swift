import ActionHost
import FlowModel
import Foundation
import StateStore

/// Decides, call by call, whether a step replays its recorded result or
/// runs for real, and records it. One journal per action attempt.
///
/// The n-th call with a given kind, name and argument digest replays the
/// n-th earlier call with the same three if that succeeded in any earlier
/// attempt. Matching by occurrence rather than by position keeps concurrent
/// calls (`asyncio.gather`) exact whatever order their branches reach the
/// engine in, and a step cut off by a crash (left `running`) runs again,
/// adopting its job, without making finished steps run again. When the
/// action code may have changed (``ReplayPolicy/stopsAtDivergence``), the
/// first call that does not match, and every call after it, runs for real,
/// and the divergence is recorded on that step. Decisions are taken in
/// sequence order even when calls arrive concurrently, so the outcome does
/// not depend on timing.
actor StepJournal {
    /// What to do with a call.
    enum Decision: Sendable {
        /// Answer with this recorded result (JSON text); nothing runs. `seq`
        /// is the step's recorded number (what `runs show` and `--from-step` use).
        case replay(resultJSON: String?, seq: Int)
        /// Run it; the step was recorded as `running` with this id. A step
        /// cut off while running in earlier attempts adopts the job its first
        /// such attempt started (``JobOrigin``).
        case execute(stepID: RecordID, adopting: JobOrigin?, seq: Int)
    }

    /// The step whose job (named after its position and attempt, ``JobNames``) a re-executed call adopts.
    struct JobOrigin: Sendable, Hashable {
        var seq: Int
        var attempt: Int
    }

    let store: any StateStore
    let actionRunID: RecordID
    let attempt: Int
    let policy: ReplayPolicy
    /// Every step of earlier attempts, for following a job back to the attempt that started it.
    private let earlier: [StepRecord]
    /// The earlier record to compare with, per position (for messages).
    private let recorded: [Int: StepRecord]
    /// The records to replay, by kind, name and digest, per occurrence.
    private let recordedByCall: [String: [StepRecord]]
    /// Per kind, name and digest: each earlier attempt's calls (newest attempt first), in position order.
    private let historyByCall: [String: [[StepRecord]]]
    /// How many calls with each kind, name and digest this attempt made.
    private var occurrences: [String: Int] = [:]
    private var diverged = false
    private var nextSeq = 1
    /// Calls a replayed task made inside it are not made again: later calls
    /// are matched this many positions further on.
    private var offset = 0
    private var highestPosition = 0
    /// Task steps this attempt opened and has not closed (position, start): only these may be ended.
    private var openTasks: [RecordID: (seq: Int, started: ContinuousClock.Instant)] = [:]
    private var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    private var pendingReplays: [(step: NewStep, resultJSON: String?)] = []
    /// Ends of executed steps not yet written (``finishBehind(stepID:seq:name:succeeded:resultJSON:errorJSON:)``):
    /// the next write of this journal carries them, or the flush a moment later.
    var pendingEnds: [(end: StepEnd, seq: Int, name: String)] = []
    /// Whether a flush of ``pendingEnds`` is scheduled.
    var flushScheduled = false
    /// The journal's writes go one at a time (an end is never stored after a later record).
    var writing = false
    var writeWaiters: [CheckedContinuation<Void, Never>] = []
    /// The action's end was recorded (``closeUnfinished(reason:)``): a call
    /// still in flight then (cut off with its host) records nothing more.
    var closed = false
    /// How long an end may wait for the next record to carry it.
    static let endFlushDelay = Duration.milliseconds(20)

    init(store: any StateStore, actionRunID: RecordID, attempt: Int, previousSteps: [StepRecord], policy: ReplayPolicy) {
        self.store = store
        self.actionRunID = actionRunID
        self.attempt = attempt
        self.policy = policy
        earlier = previousSteps.filter { $0.attempt < attempt }
        recorded = Self.comparable(earlier)
        var history: [String: [[StepRecord]]] = [:]
        let usable = Self.beforeDivergences(earlier)
        for attempt in Set(usable.map(\.attempt)).sorted(by: >) {
            let calls = Dictionary(grouping: usable.filter { $0.attempt == attempt }.sorted { $0.seq < $1.seq }) {
                Self.callKey($0.kind, $0.name, $0.argsDigest)
            }
            for (key, steps) in calls { history[key, default: []].append(steps) }
        }
        historyByCall = history
        if policy.stopsAtDivergence {
            recordedByCall = Dictionary(grouping: recorded.values.sorted { $0.seq < $1.seq }) { Self.callKey($0.kind, $0.name, $0.argsDigest) }
        } else {
            recordedByCall = history.mapValues(Self.bestPerOccurrence)
        }
    }

    /// The records no later attempt declared stale: an attempt that recorded
    /// a divergence at position d ran everything from d on for real, so
    /// older attempts' records from d on followed another path.
    static func beforeDivergences(_ steps: [StepRecord]) -> [StepRecord] {
        var divergedAt: [Int: Int] = [:]
        for step in steps where step.divergenceJSON != nil {
            divergedAt[step.attempt] = min(divergedAt[step.attempt] ?? Int.max, step.seq)
        }
        guard !divergedAt.isEmpty else { return steps }
        return steps.filter { step in
            !divergedAt.contains { attempt, seq in attempt > step.attempt && step.seq >= seq }
        }
    }

    /// Per occurrence, the newest attempt's record that finished well, else
    /// the newest record at all (`attempts` newest first).
    static func bestPerOccurrence(_ attempts: [[StepRecord]]) -> [StepRecord] {
        let count = attempts.map(\.count).max() ?? 0
        return (0..<count).compactMap { occurrence in
            let candidates = attempts.compactMap { occurrence < $0.count ? $0[occurrence] : nil }
            return candidates.first { $0.status == .succeeded || $0.status == .replayed } ?? candidates.first
        }
    }

    /// Whether a recorded step can answer a call without running it: it
    /// finished well, and (a task) its result was recorded for replay.
    static func canReplay(_ step: StepRecord) -> Bool {
        (step.status == .succeeded || step.status == .replayed) && !isUnrecordedTaskResult(step)
    }

    /// A task that succeeded but whose result the host could not record
    /// (`"replayable": false`, see the host's `results.py`): a replay runs
    /// its body again, and the calls it makes inside replay as usual.
    static func isUnrecordedTaskResult(_ step: StepRecord) -> Bool {
        step.kind == .task && (step.status == .succeeded || step.status == .replayed)
            && JSONValue(storedText: step.resultJSON)?["replayable"]?.boolValue == false
    }

    static func callKey(_ kind: StepKind, _ name: String, _ digest: String) -> String {
        kind.rawValue + "\u{0}" + name + "\u{0}" + digest
    }

    /// The newest record per position, except that an attempt which ran a
    /// step for real at position d makes older attempts' records above d
    /// stale (they followed other earlier steps).
    static func comparable(_ steps: [StepRecord]) -> [Int: StepRecord] {
        var result: [Int: StepRecord] = [:]
        var barrier = Int.max
        for attempt in Set(steps.map(\.attempt)).sorted(by: >) {
            let ofAttempt = steps.filter { $0.attempt == attempt }
            for step in ofAttempt where step.seq < barrier && result[step.seq] == nil {
                result[step.seq] = step
            }
            if let firstExecuted = ofAttempt.filter({ !$0.replayed }).map(\.seq).min() {
                barrier = min(barrier, firstExecuted + 1)
            }
        }
        return result
    }

    /// The job a re-executed call adopts: walking earlier attempts from the
    /// newest, the same occurrence of the same call left `running` (cut off
    /// by a crash; an adopting re-execution may have been cut off too), back
    /// to the attempt that first started it. Attempts that did not reach the
    /// call are skipped; one where it finished ends the walk (its job ended:
    /// a new one is due). However many crashes, one job.
    func jobOrigin(key: String, occurrence: Int) -> JobOrigin? {
        var origin: JobOrigin?
        for calls in historyByCall[key] ?? [] where occurrence < calls.count {
            let step = calls[occurrence]
            guard step.status == .running else { break }
            origin = JobOrigin(seq: step.seq, attempt: step.attempt)
        }
        return origin
    }

    /// The calls the host may answer itself (local replay): what ``decide(seq:kind:name:argsJSON:digest:)``
    /// would replay, in order, if the action makes its recorded calls again
    /// in their recorded order, from the first call on. It stops at the first
    /// call that would run, at a step whose stored arguments are not the
    /// ones digested (masked secrets), and past `byteLimit` bytes of
    /// arguments and results. Empty once a call was decided.
    func localReplay(byteLimit: Int = 8 << 20) -> [LocalReplayStep] {
        guard nextSeq == 1, !diverged, offset == 0 else { return [] }
        var occurrences: [String: Int] = [:]
        var offset = 0, arrival = 1, bytes = 0
        var steps: [LocalReplayStep] = []
        // The same choices as decide's replay branch, before any call (not yet diverged).
        while let expected = recorded[arrival + offset], expected.kind != .builtin {
            let key = Self.callKey(expected.kind, expected.name, expected.argsDigest)
            let occurrence = occurrences[key, default: 0]
            occurrences[key] = occurrence + 1
            let candidates = recordedByCall[key] ?? []
            guard occurrence < candidates.count, policy.allowsReplay(of: candidates[occurrence].seq), Self.canReplay(candidates[occurrence]),
                  let arguments = JSONValue(storedText: expected.argsJSON),
                  ArgumentDigest.of(arguments) == expected.argsDigest else { break }
            let previous = candidates[occurrence]
            bytes += expected.argsJSON.utf8.count + (previous.resultJSON?.utf8.count ?? 0)
            guard bytes <= byteLimit else { break }
            steps.append(LocalReplayStep(kind: expected.kind, name: expected.name, arguments: arguments, resultJSON: previous.resultJSON))
            if expected.kind == .task, let nested = JSONValue(storedText: previous.resultJSON)?["nested_steps"]?.intValue, nested > 0 {
                // A stored count is outside data: one past any position stops the list, not the engine.
                guard nested < Int(Int32.max) else { break }
                offset += Int(nested)
            }
            arrival += 1
        }
        return steps
    }

    /// Waits for the calls before `seq` to be decided.
    private func waitForTurn(_ seq: Int) async {
        while seq > nextSeq {
            await withCheckedContinuation { continuation in waiting[seq] = continuation }
        }
    }

    private func advance() {
        nextSeq += 1
        waiting.removeValue(forKey: nextSeq)?.resume()
    }

    /// Lets the call that arrived `seq`-th pass without deciding or recording
    /// it (a call refused before the journal, see ``LeaseFence``): the calls
    /// after it are not left waiting for its turn.
    func skip(seq arrival: Int) async {
        await waitForTurn(arrival)
        advance()
    }

    /// Decides for the call that arrived `seq`-th and records it.
    func decide(seq arrival: Int, kind: StepKind, name: String, argsJSON: String, digest: String) async throws(StateStoreError) -> Decision {
        await waitForTurn(arrival)
        defer { advance() }
        let seq = arrival + offset
        highestPosition = max(highestPosition, seq)
        // Compared as stored: a NUL in a task's name is kept as U+FFFD (see StorableText).
        let name = StorableText.storable(name)
        let key = Self.callKey(kind, name, digest)
        let occurrence = occurrences[key, default: 0]
        occurrences[key] = occurrence + 1
        let candidates = recordedByCall[key] ?? []
        let match = occurrence < candidates.count ? candidates[occurrence] : nil
        let step = NewStep(actionRunID: actionRunID, attempt: attempt, seq: seq, kind: kind, name: name, argsJSON: argsJSON, argsDigest: digest)
        let strict = policy.stopsAtDivergence
        if !(strict && diverged), let previous = match, policy.allowsReplay(of: previous.seq), Self.canReplay(previous) {
            // Not past a step whose end was lost, though nothing runs here either.
            if !pendingEnds.isEmpty || writing { try await writePendingEnds() }
            pendingReplays.append((step, previous.resultJSON))
            if pendingReplays.count >= 256 { try await flush() }
            if kind == .task, let nested = JSONValue(storedText: previous.resultJSON)?["nested_steps"]?.intValue, nested > 0 {
                offset += Int(nested)
                highestPosition = seq + Int(nested)
            }
            return .replay(resultJSON: previous.resultJSON, seq: seq)
        }
        var divergence: String?
        if strict, !diverged, policy.allowsReplay(of: seq), let previous = recorded[seq], previous.seq == seq,
           previous.status == .succeeded || previous.status == .replayed, !(match.map(Self.isUnrecordedTaskResult) ?? false) {
            // A record exists but the call differs: replay stops here.
            divergence = JSONValue.object([
                "expected": .object(["kind": .string(previous.kind.rawValue), "name": .string(previous.name),
                                     "args": JSONValue(storedText: previous.argsJSON) ?? .null,
                                     "attempt": .int(previous.attempt), "seq": .int(previous.seq)]),
                "got": .object(["kind": .string(kind.rawValue), "name": .string(name), "args": JSONValue(storedText: argsJSON) ?? .null]),
                "message": .string("replay stopped: the action's call \(seq) is \(name) with different \(previous.name == name && previous.kind == kind ? "arguments" : "kind or name") than recorded (\(previous.name) in attempt \(previous.attempt)); it and every later call run for real"),
            ]).jsonText
        }
        // A call cut off by a crash runs again (adopting its job), and a task
        // whose result could not be recorded runs again: neither is a divergence.
        if match?.status != .running, !(match.map(Self.isUnrecordedTaskResult) ?? false) { diverged = true }
        let store = store
        let id = try await writeCarryingEnds { [self] ends throws(StateStoreError) in
            guard !pendingReplays.isEmpty else { return try await store.beginStep(step, divergenceJSON: divergence, finishingFirst: ends) }
            // The ends first: a replay record that fails must not take them with it.
            try await store.finishSteps(ends)
            try await recordPendingReplays()
            return try await store.beginStep(step, divergenceJSON: divergence)
        }
        if kind == .task { openTasks[id] = (seq, ContinuousClock.now) }
        return .execute(stepID: id, adopting: kind == .primitive ? jobOrigin(key: key, occurrence: occurrence) : nil, seq: seq)
    }

    /// Records the end of a task this attempt opened; the calls the task made
    /// inside it are counted into its result (`nested_steps`), so a replay of
    /// the task skips them. Returns how long the task ran (milliseconds), or
    /// nil for a step id this attempt did not open.
    func finishTask(stepID: RecordID, succeeded: Bool, result: JSONValue?, errorJSON: String?) async throws(StateStoreError) -> Double? {
        guard let open = openTasks.removeValue(forKey: stepID) else { return nil }
        var stored = result
        if case .object(var members)? = result {
            members["nested_steps"] = .int(max(0, highestPosition - open.seq))
            stored = .object(members)
        }
        let end = StepEnd(id: stepID, status: succeeded ? .succeeded : .failed, resultJSON: stored?.jsonText, errorJSON: errorJSON)
        let store = store
        do {
            try await writeCarryingEnds { ends throws(StateStoreError) in try await store.finishSteps(ends + [end]) }
        } catch {
            openTasks[stepID] = open  // still open: the action's end records it failed
            throw error
        }
        let elapsed = ContinuousClock.now - open.started
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    /// Steps of this attempt still `running` when the action ended (a task
    /// cut short by a cancel or a timeout) are recorded as failed, after the
    /// ends and replayed calls not yet written.
    /// Every record is attempted even when an earlier one failed (an end
    /// lost while the action went on); the first failure is thrown at the end.
    /// The records are written even when the caller's task was cancelled (a
    /// draining server), in a task of their own: GRDB refuses the writes of a cancelled task.
    func closeUnfinished(reason: String) async throws(StateStoreError) {
        if let failure = await Task(operation: { [self] in await recordUnfinished(reason: reason) }).value { throw failure }
    }

    private func recordUnfinished(reason: String) async -> StateStoreError? {
        await beginWrite()
        defer { endWrite() }
        closed = true
        var failure: StateStoreError?
        let ends = pendingEnds
        pendingEnds.removeAll()
        if !ends.isEmpty {
            do {
                try await store.finishSteps(ends.map(\.end))
            } catch {
                failure = Self.lost(ends, error)
            }
        }
        do {
            try await recordPendingReplays()
        } catch {
            failure = failure ?? error
        }
        let open = openTasks
        openTasks.removeAll()
        for (stepID, _) in open {
            do {
                try await store.finishStep(id: stepID, status: .failed, resultJSON: nil,
                                           errorJSON: JSONValue.object(["type": "Interrupted", "message": .string(reason)]).jsonText)
            } catch {
                failure = failure ?? error
            }
        }
        return failure
    }

    /// Writes the replayed steps not yet recorded, with the ends not yet written.
    func flush() async throws(StateStoreError) {
        let store = store
        try await writeCarryingEnds { [self] ends throws(StateStoreError) in
            try await store.finishSteps(ends)
            try await recordPendingReplays()
        }
    }

    private func recordPendingReplays() async throws(StateStoreError) {
        guard !pendingReplays.isEmpty else { return }
        let batch = pendingReplays
        pendingReplays.removeAll()
        try await store.recordReplayedSteps(batch)
    }
}
