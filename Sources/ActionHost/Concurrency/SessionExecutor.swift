import Dispatch
import FlowModel
import Foundation
import Synchronization

/// The thread of one host session: it runs the jobs of the tasks that
/// prefer it (the session's loop and its calls, and the actors they enter),
/// one at a time, in the order they come (a Swift `TaskExecutor`, SE-0417).
///
/// Why: on the cooperative pool, every hand-off between the protocol
/// reader, the loop, a call and the store woke another thread (Dispatch's
/// pool pokes an idle thread for each job), about eight thread switches per
/// call. Here a job enqueued from the session's own thread costs no wake,
/// and the thread is a ``DedicatedThread``: a store may write on it directly
/// instead of on a queue of its own.
///
/// Contract: ``start()`` starts the thread once; ``finish()`` lets it end
/// once no job is queued. A job enqueued after that (a call cut off with
/// its session, still waiting for a write) runs on the global concurrent
/// executor: nothing is ever dropped. Jobs must not block for long (as on
/// the cooperative pool), except for the store's writes: a SQLite write may
/// wait here for the file's lock (up to its busy timeout), and the session's
/// other events (a cancel, a deadline, other calls) wait with it.
final class SessionExecutor: TaskExecutor {
    private struct State {
        var jobs: [UnownedJob] = []
        /// The thread waits on ``wake`` (and must be signalled for a new job).
        var sleeping = false
        var finishing = false
        /// The thread has ended: jobs go to the global executor.
        var ended = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init() {}

    /// Starts the session's thread.
    func start() {
        let thread = Thread { [self] in serve() }
        thread.name = "flowrunner.host.session"
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let (accepted, signal) = state.withLock { state -> (Bool, Bool) in
            guard !state.ended else { return (false, false) }
            state.jobs.append(job)
            defer { state.sleeping = false }
            return (true, state.sleeping)
        }
        if !accepted {
            globalConcurrentExecutor.enqueue(job)
        } else if signal {
            wake.signal()
        }
    }

    /// Lets the thread end once its queue is empty.
    func finish() {
        let signal = state.withLock { state -> Bool in
            state.finishing = true
            defer { state.sleeping = false }
            return state.sleeping
        }
        if signal { wake.signal() }
    }

    private func serve() {
        DedicatedThread.markCurrent()
        let executor = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            let ended = state.withLock { state -> Bool in
                swap(&batch, &state.jobs)
                if !batch.isEmpty { return false }
                if state.finishing {
                    state.ended = true
                    return true
                }
                state.sleeping = true
                return false
            }
            if ended { return }
            if batch.isEmpty {
                wake.wait()
                continue
            }
            for job in batch { job.runSynchronously(on: executor) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
