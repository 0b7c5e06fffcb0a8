import Logging
import PostgresNIO
import StateStore
import Synchronization

/// The store's one `LISTEN` connection: wakes the callers of
/// ``PostgresStateStore/waitForChange(_:ofRun:timeout:)`` and
/// ``PostgresStateStore/waitForQueueChange(timeout:)`` when another process
/// (or this one) changes a run, so that a cancel, a new log line or a queued
/// run is seen across machines within a round trip instead of a poll interval.
///
/// The notifications come from the triggers of schema version 2 on channel
/// ``channel``, one payload each (``Key``): `s<run id>` when a run's status
/// changes, `l<run id>` when its log lines are appended, `q` when a run may
/// have become claimable (it wakes one waiter of this process, not all: a
/// herd of idle workers would each try a claim). PostgreSQL delivers them after the writing
/// transaction commits, at most once, and folds identical payloads of one
/// transaction into one.
///
/// The connection is opened at the first wait (a command that never waits
/// opens none) and opened again, backing off from 0.1 s to 5 s, when the
/// server closes it. While it is not listening, a wait lasts its timeout:
/// callers fall back to polling. Every waiter is woken when listening
/// starts or stops (notifications sent while nobody listened are lost), so
/// the first wait of a process, which starts the connection, returns as
/// soon as it listens instead of after its whole timeout.
actor ChangeListener {
    /// The notification channel the schema's triggers send on.
    static let channel = "flowrunner_changes"

    /// A notification's payload.
    enum Key: Hashable {
        case status(RecordID)
        case logs(RecordID)
        case queue

        /// Parses `s42`, `l42` or `q`; nil for anything else.
        init?(payload: String) {
            let number = RecordID(payload.dropFirst())
            switch (payload.first, number) {
            case ("s", let id?): self = .status(id)
            case ("l", let id?): self = .logs(id)
            case ("q", _) where payload.count == 1: self = .queue
            default: return nil
            }
        }
    }

    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// The waiting callers by token, and the tokens waiting for each key.
    private var waiters: [Int: (keys: [Key], continuation: CheckedContinuation<Void, Never>)] = [:]
    private var tokensByKey: [Key: Set<Int>] = [:]
    private var nextToken = 0
    private var listening = false
    private var listener: Task<Void, Never>?
    private var stopped = false

    init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Waits for a notification with one of `keys`, at most `timeout`, or
    /// until listening starts or stops; returns soon after the calling task
    /// is cancelled.
    func wait(for keys: [Key], timeout: Duration) async {
        startIfNeeded()
        let token = nextToken
        nextToken += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.wake(token)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard !Task.isCancelled else { return continuation.resume() }
                waiters[token] = (keys, continuation)
                for key in keys { tokensByKey[key, default: []].insert(token) }
            }
        } onCancel: {
            Task { await self.wake(token) }
        }
        timer.cancel()
    }

    /// Whether a connection listens now (waits are woken rather than timed out).
    var isListening: Bool { listening }
    /// How many callers wait now.
    var waiterCount: Int { waiters.count }
    /// How many keys have waiters now (none once every wait has returned).
    var waitedKeyCount: Int { tokensByKey.count }

    deinit {
        // A store dropped without close(): its connection must not listen on for ever.
        listener?.cancel()
    }

    /// Closes the connection and wakes every waiter; waits afterwards poll.
    func stop() {
        stopped = true
        listener?.cancel()
        listener = nil
        listening = false
        wakeAll()
    }

    // MARK: Waking

    private func wake(_ token: Int) {
        guard let waiter = waiters.removeValue(forKey: token) else { return }
        for key in waiter.keys {
            tokensByKey[key]?.remove(token)
            // Each run waited for is a key: an empty entry left behind would stay for the process's life.
            if tokensByKey[key]?.isEmpty == true { tokensByKey[key] = nil }
        }
        waiter.continuation.resume()
    }

    private func wakeAll() {
        for token in Array(waiters.keys) { wake(token) }
    }

    private func received(_ payload: String) {
        guard let key = Key(payload: payload), let tokens = tokensByKey[key] else { return }
        guard key == .queue else {
            for token in tokens { wake(token) }
            return
        }
        // One idle worker of this process looks for the run (one notification,
        // one claimable run, mostly); the others look at their poll interval.
        // Waking them all made every idle worker of every process run a claim
        // transaction for each run queued or ended anywhere.
        if let token = tokens.first { wake(token) }
    }

    private func setListening(_ value: Bool) {
        let now = value && !stopped
        // A failed reconnection changes nothing: the waiters are polling already.
        guard now != listening else { return }
        listening = now
        // Started: what was sent while nobody listened is lost, so everyone looks.
        // Stopped: waiters poll from now on.
        wakeAll()
    }

    // MARK: The connection

    private func startIfNeeded() {
        guard listener == nil, !stopped else { return }
        let configuration = configuration, logger = logger
        listener = Task { [weak self] in
            var backoff = Duration.milliseconds(100)
            while !Task.isCancelled {
                let listened = await Self.listenOnce(configuration: configuration, logger: logger) { [weak self] event in
                    switch event {
                    case .started: await self?.setListening(true)
                    case .received(let payload): await self?.received(payload)
                    }
                }
                guard let self else { return }
                await self.setListening(false)
                backoff = listened ? .milliseconds(100) : min(backoff * 2, .seconds(5))
                try? await Task.sleep(for: backoff)
            }
        }
    }

    enum Event: Sendable {
        case started
        case received(String)
    }

    /// One connection's life: connects, listens, hands each notification to
    /// `handle`, and returns when the connection closes (checked every 0.5 s,
    /// since PostgresNIO may not end the notification sequence of a
    /// connection the server cut) or the task is cancelled. True when it listened.
    private static func listenOnce(configuration: PostgresConnection.Configuration, logger: Logger,
                                   handle: @escaping @Sendable (Event) async -> Void) async -> Bool {
        guard let connection = try? await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger) else { return false }
        let ended = Mutex(false)
        let started = Mutex(false)
        let consumer = Task {
            defer { ended.withLock { $0 = true } }
            try await connection.listen(on: channel) { notifications in
                started.withLock { $0 = true }
                await handle(.started)
                for try await notification in notifications {
                    await handle(.received(notification.payload))
                }
            }
        }
        while !Task.isCancelled, !connection.isClosed, !ended.withLock({ $0 }) {
            try? await Task.sleep(for: .milliseconds(500))
        }
        consumer.cancel()
        // The consumer is not waited for: it may stay suspended on a connection
        // PostgresNIO dropped. Closing the channel itself always ends.
        try? await connection.close()
        return started.withLock { $0 }
    }
}
