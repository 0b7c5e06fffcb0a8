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
    /// `environment`, as the leader of a new process group, with the
    /// engine's working directory. Signals are reset to their defaults in the child.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String]
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

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        // Nothing else of the engine's reaches the child: no state-store
        // descriptor, no other host's pipe (which would keep it open).
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = (argv + [nil]).withUnsafeBufferPointer { argvBuffer -> Int32 in
            (envp + [nil]).withUnsafeBufferPointer { envpBuffer -> Int32 in
                guard let argvBase = argvBuffer.baseAddress, let envpBase = envpBuffer.baseAddress else { return EINVAL }
                return posix_spawn(&pid, executable, &actions, &attributes,
                                   UnsafeMutablePointer(mutating: argvBase), UnsafeMutablePointer(mutating: envpBase))
            }
        }
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard status == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw ActionHostError(.spawnFailed, "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return ChildProcess(pid: pid, stdinFD: stdinPipe[1], stdoutFD: stdoutPipe[0], stderrFD: stderrPipe[0])
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at
    /// run time: Swift does not see the GNU-only declaration.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32).self)
    }()

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

    /// Writes all of `bytes` to the child's stdin; false when the pipe is closed.
    func writeToStdin(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(stdinFD, buffer.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Closes the parent's end of the child's stdin.
    func closeStdin() {
        close(stdinFD)
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
