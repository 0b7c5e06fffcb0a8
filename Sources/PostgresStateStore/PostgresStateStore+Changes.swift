public import StateStore

extension PostgresStateStore {
    /// Waits for a notification of `changes` to run `id` from any process on
    /// this database (see ``ChangeListener``), or `timeout`; polls (sleeps
    /// `timeout`) while the listening connection is down.
    public func waitForChange(_ changes: RunChanges, ofRun id: RecordID, timeout: Duration) async {
        var keys: [ChangeListener.Key] = []
        if changes.contains(.status) { keys.append(.status(id)) }
        if changes.contains(.logs) { keys.append(.logs(id)) }
        await listener.wait(for: keys, timeout: timeout)
    }

    /// Waits for a run to be queued or to end in any process on this
    /// database, or `timeout`; polls while the listening connection is down.
    /// Each such change wakes one waiting caller of this process (an idle
    /// worker, which claims), not every one.
    public func waitForQueueChange(timeout: Duration) async {
        await listener.wait(for: [.queue], timeout: timeout)
    }
}
