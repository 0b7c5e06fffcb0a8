#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process in its own process group, with its stdin, stdout and
/// stderr connected to pipes owned by the parent. The whole group is
/// signalled together, so the child's own children go with it.
final class ChildProcess: @unchecked Sendable {
    /// The child's pid, which is also its process group id.
    let pid: pid_t
    /// Write end of the child's stdin.
    let stdinFD: Int32
    /// Read end of the child's stdout.
    let stdoutFD: Int32
    /// Read end of the child's stderr.
    let stderrFD: Int32

    private init(pid: pid_t, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32) {
        self.pid = pid
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
    }

    /// Ignores SIGPIPE in this process once, so a write to a dead child's
    /// pipe fails with EPIPE instead of killing the engine.
    private static let ignoreSIGPIPE: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// Serialises pipe creation and spawning across threads.
    private static let spawnLock = NSLockLike()

    /// Starts `executable` with `arguments` (argv[1...]) and exactly
    /// `environment`, as the leader of a new process group, in
    /// `workingDirectory` (nil: the engine's). Signals are reset to their
    /// defaults in the child and no descriptor but its stdio is inherited.
    /// With `confinement`, the child first enters a private mount namespace
    /// laid out by its plan and becomes its user (see ``ActionIsolation``).
    static func spawn(
        executable: String, arguments: [String], environment: [String: String],
        workingDirectory: String? = nil, confinement: Confinement? = nil, niceness: Int32 = 0
    ) throws(ActionHostError) -> ChildProcess {
        _ = ignoreSIGPIPE
        // Pipes are created close-on-exec under a lock shared by every spawn,
        // so no concurrently started child inherits another child's pipes.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        func closeAll() {
            for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
        }
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            let reason = String(cString: strerror(errno))
            closeAll()
            throw ActionHostError(.spawnFailed, "cannot create pipes for the Python host: \(reason)")
        }
        for fd in stdinPipe + stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var pid: pid_t = 0
        let launch = Launch(
            executable: executable, argv: [executable] + arguments,
            envp: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            workingDirectory: workingDirectory, stdio: (stdinPipe[0], stdoutPipe[1], stderrPipe[1]),
            confinement: confinement, niceness: niceness
        )
        let result = launch.start(pid: &pid)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if case .failure(let message) = result {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw ActionHostError(.spawnFailed, message)
        }
        return ChildProcess(pid: pid, stdinFD: stdinPipe[1], stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0])
    }

    /// Sends `signal` to the child's whole process group (the child and
    /// every descendant that did not leave the group).
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// Blocks until the child exits and returns how it ended. Call once.
    func waitForExit() -> ExitStatus {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { break }
            if result == -1 && errno != EINTR { return .exited(code: -1) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros in C).
        let termination = status & 0x7F
        if termination == 0 { return .exited(code: (status >> 8) & 0xFF) }
        return .signalled(signal: termination)
    }

}

/// A plain pthread mutex (the module avoids Foundation's locks).
final class NSLockLike: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    func lock() { pthread_mutex_lock(mutex) }

    func unlock() { pthread_mutex_unlock(mutex) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
}

/// How a child process ended.
enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(code: Int32)
    case signalled(signal: Int32)

    var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signalled(let signal): return "was killed by signal \(signal) (\(Self.signalName(signal)))"
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV, a crash in native code"
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGINT: "SIGINT"
        default: "signal \(signal)"
        }
    }
}
