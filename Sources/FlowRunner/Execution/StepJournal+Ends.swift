import FlowModel
import StateStore

/// The ends of executed steps: kept until the journal's next record carries
/// them (one write for both), or flushed on their own a moment later; and
/// the journal's write turn, which keeps every record in order.
extension StepJournal {
    /// Records the end of step `seq` (`name`, id `stepID`), which ran,
    /// without waiting for a write: the action gets its answer at once, and
    /// the end is stored with the journal's next record (the next step, a
    /// replayed call, a task's end, the action's end), or on its own after
    /// ``endFlushDelay`` if none comes. A write that cannot store the end
    /// fails, and the end stays to be carried by the next record, which fails
    /// too while it cannot be stored: the action cannot go on past a step
    /// whose end was lost. A crash before the write leaves the
    /// step `running`: the next attempt executes it again, adopting its job,
    /// as any step cut off while running (primitives are idempotent). An
    /// end that comes after the action's end was recorded (a call cut off
    /// with its host) is not written either.
    func finishBehind(stepID: RecordID, seq: Int, name: String, succeeded: Bool, resultJSON: String?, errorJSON: String?) {
        guard !closed else { return }  // left running: the next attempt adopts it
        pendingEnds.append((StepEnd(id: stepID, status: succeeded ? .succeeded : .failed, resultJSON: resultJSON, errorJSON: errorJSON), seq, name))
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { [self] in
            try? await Task.sleep(for: Self.endFlushDelay)
            await flushEnds()
        }
    }

    /// The scheduled flush: writes the ends no record carried meanwhile (after
    /// a failure they stay for the next record, which then fails if it cannot store them).
    func flushEnds() async {
        flushScheduled = false
        guard !pendingEnds.isEmpty else { return }
        try? await writePendingEnds()
    }

    /// Writes the ends not yet written, on their own (after every write before it).
    func writePendingEnds() async throws(StateStoreError) {
        let store = store
        try await writeCarryingEnds { ends throws(StateStoreError) in try await store.finishSteps(ends) }
    }

    /// Runs `write` with the ends not yet written (taken now), after every
    /// write of this journal before it. When a write that carried ends fails,
    /// its error names the first of them, and they are kept to be carried
    /// again (an end recorded already the same way is not refused, see
    /// ``StateStore/finishSteps(_:)``): nothing is recorded past an end
    /// that is not.
    func writeCarryingEnds<T>(_ write: ([StepEnd]) async throws(StateStoreError) -> T) async throws(StateStoreError) -> T {
        await beginWrite()
        defer { endWrite() }
        guard !closed else {
            throw StateStoreError(.illegalTransition, location: store.location, "the action's attempt has ended: nothing more is recorded for it")
        }
        let ends = pendingEnds
        pendingEnds.removeAll()
        do {
            return try await write(ends.map(\.end))
        } catch {
            guard !ends.isEmpty else { throw error }
            pendingEnds.insert(contentsOf: ends, at: 0)
            throw Self.lost(ends, error)
        }
    }

    static func lost(_ ends: [(end: StepEnd, seq: Int, name: String)], _ error: StateStoreError) -> StateStoreError {
        guard let first = ends.first else { return error }
        return StateStoreError(error.code, location: error.location, "the end of step \(first.seq) (\(first.name)) was not recorded: \(error.reason)")
    }

    /// Takes the journal's write turn, in the order asked.
    func beginWrite() async {
        guard writing else {
            writing = true
            return
        }
        await withCheckedContinuation { writeWaiters.append($0) }
    }

    /// Hands the write turn to the next in line (it stays taken), or frees it.
    func endWrite() {
        if writeWaiters.isEmpty {
            writing = false
        } else {
            writeWaiters.removeFirst().resume()
        }
    }
}
