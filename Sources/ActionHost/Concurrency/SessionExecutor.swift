import FlowModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The thread of one host session: it reads the host's protocol pipe and
/// runs the jobs of the tasks that prefer it (the session's loop and its
/// calls, and the actors they enter), one at a time, in the order they come
/// (a Swift `TaskExecutor`, SE-0417).
///
/// Why: on the cooperative pool, every hand-off between the protocol
/// reader, the loop, a call and the store woke another thread (Dispatch's
/// pool pokes an idle thread for each job), about eight thread switches per
/// call. Here a line read becomes the loop's job on the same thread, a job
/// enqueued from this thread costs no wake, and the thread is a
/// ``DedicatedThread``: the store writes on it directly.
///
/// Contract: ``start(reading:)`` starts the thread once; ``finish()`` lets
/// it end once no job is queued (it then stops reading and closes the pipe).
/// A job enqueued after that (a call cut off with its session, still waiting
/// for a write) runs on the global concurrent executor: nothing is ever
/// dropped. Jobs must not block for long (as on the cooperative pool),
/// except for the store's writes: a SQLite write may wait here for the
/// file's lock (up to its busy timeout), and the session's other events (a
/// cancel, a deadline, other calls, the host's next lines) wait with it.
final class SessionExecutor: TaskExecutor {
    /// The host's protocol pipe, read on the session's thread between jobs.
    struct Input: Sendable {
        let fd: Int32
        let maximumLineLength: Int
        /// Each line (or start of a line too long); false stops reading.
        let handle: @Sendable (LineSplitter.Event) -> Bool
        /// Once, when reading stopped (end of file, a read error, `handle`
        /// said stop, or the executor finished); the descriptor is closed then.
        let closed: @Sendable () -> Void
    }

    private struct State {
        var jobs: [UnownedJob] = []
        /// The thread is in (or about to enter) `poll`: a new job must write to the wake pipe.
        var polling = false
        var finishing = false
        /// The thread has ended: jobs go to the global executor.
        var ended = false
    }

    private let state = Mutex(State())
    /// A pipe whose read end the thread polls beside the host's; a byte wakes it.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    deinit {
        // The thread closes the pipe when it ends; one never started did not.
        if !state.withLock({ $0.ended }) {
            close(wakeRead)
            close(wakeWrite)
        }
    }

    /// Starts the session's thread, reading `input` between jobs.
    func start(reading input: Input) {
        let thread = Thread { [self] in serve(input) }
        thread.name = "flowrunner.host.session"
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard !state.ended else { return (false, false) }
            state.jobs.append(job)
            defer { state.polling = false }
            return (true, state.polling)
        }
        if !accepted {
            globalConcurrentExecutor.enqueue(job)
        } else if wake {
            wakeUp()
        }
    }

    /// Lets the thread end once its queue is empty.
    func finish() {
        let wake = state.withLock { state -> Bool in
            state.finishing = true
            defer { state.polling = false }
            return state.polling
        }
        if wake { wakeUp() }
    }

    private func wakeUp() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already wakes it
    }

    private func serve(_ input: Input) {
        DedicatedThread.markCurrent()
        let executor = asUnownedTaskExecutor()
        var splitter = LineSplitter(maximumLineLength: input.maximumLineLength)
        var reading = true
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var batch: [UnownedJob] = []
        func stopReading() {
            guard reading else { return }
            reading = false
            close(input.fd)
            input.closed()
        }
        while true {
            enum Next { case run, poll, end }
            let next = state.withLock { state -> Next in
                swap(&batch, &state.jobs)
                if !batch.isEmpty { return .run }
                if state.finishing {
                    state.ended = true
                    return .end
                }
                state.polling = true
                return .poll
            }
            switch next {
            case .run:
                for job in batch { job.runSynchronously(on: executor) }
                batch.removeAll(keepingCapacity: true)
                continue
            case .end:
                stopReading()
                close(wakeRead)
                close(wakeWrite)
                return
            case .poll:
                break
            }
            var descriptors = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if reading { descriptors.append(pollfd(fd: input.fd, events: Int16(POLLIN), revents: 0)) }
            // Without a wake pipe (none could be made), look at the queue every 10 ms.
            let ready = poll(&descriptors, nfds_t(descriptors.count), wakeRead < 0 ? 10 : -1)
            state.withLock { $0.polling = false }
            if ready < 0 {
                if errno != EINTR { stopReading() }
                continue
            }
            if descriptors[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while drain.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
            }
            guard reading, descriptors.count > 1, descriptors[1].revents != 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { read(input.fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count <= 0 {
                splitter.finish(input.handle)
                stopReading()
            } else if !splitter.feed(chunk[0..<count], input.handle) {
                stopReading()
            }
        }
    }
}
