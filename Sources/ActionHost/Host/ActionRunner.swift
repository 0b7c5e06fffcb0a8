import FlowModel
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs action functions in a Python host process and serves their calls.
///
/// Contract:
/// - One host process per ``run(_:handler:)``, in its own process group,
///   with a minimal environment (no engine secrets), the bundled package
///   first on `PYTHONPATH` and the driver directory after it.
/// - The protocol is JSON Lines on the host's original stdin/stdout, which
///   the host claims before action code runs; everything the action prints
///   or logs, and all raw output on stderr, reaches the handler as log lines
///   (past ``logCapBytes`` it is dropped and counted).
/// - Whatever the action does (raise, exit, crash, hang, close or flood the
///   protocol channel) ``run(_:handler:)`` returns an ``ActionOutcome``; it
///   never throws and never leaves a process behind: at the end the whole
///   process group is killed and the host reaped.
/// - A timeout (the invocation's, or the flow's `timeout_seconds` when
///   shorter) or a cancellation of the calling task first asks the host to
///   cancel the action's coroutine (so `finally` blocks run), then sends
///   SIGTERM to the group after ``cancelGracePeriod`` (which unwinds even
///   synchronous code, running its `finally` blocks), then SIGKILL after
///   ``gracePeriod``.
public struct ActionRunner: Sendable {
    /// The interpreter the host runs on.
    public var interpreter: PythonInterpreter
    /// The directory holding the bundled package and `flowrunner_host.py`.
    public var pythonDirectory: String
    /// Environment variables the host may inherit (`PATH`, `HOME`, locale, `TZ`, `TMPDIR`).
    public var inheritedEnvironment: [String: String]
    /// How long a cancelled action gets to stop by itself before SIGTERM.
    public var cancelGracePeriod: Duration = .milliseconds(500)
    /// How long the host gets after SIGTERM (and after reporting its
    /// outcome) before SIGKILL.
    public var gracePeriod: Duration = .seconds(2)
    /// Longest protocol message accepted (16 MiB).
    public var maximumMessageBytes = 16 << 20
    /// Log output kept per action run (8 MiB); the rest is counted and dropped.
    public var logCapBytes = 8 << 20
    /// How hosts are kept from the engine. The command line always chooses
    /// (``ActionIsolation/resolve(user:unisolated:effectiveUserID:)``).
    public var isolation: ActionIsolation = .unisolated
    /// The engine's files an isolated host must not see.
    public var protectedPaths = ProtectedPaths()
    /// More files to hide, asked for at each host start (the kubeconfigs of
    /// the clusters registered now, and the credential files they name).
    public var protectedFilesProvider: (@Sendable () async -> [String])?
    /// Added to each host's nice value (5): when hosts keep every core busy,
    /// the engine's own threads (lease heartbeats, `serve`'s API) still get
    /// the processor first. 0 runs hosts at the engine's priority.
    public var hostNiceness: Int32 = 5

    /// The variables a host inherits from the engine; everything else (tokens,
    /// kubeconfigs, the engine's own settings) stays out.
    static let inheritedNames: Set<String> = ["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR", "USER", "LOGNAME", "FLOWRUNNER_PYTHON_SITE"]

    /// Creates a runner; `environment` is filtered down to the inherited names.
    public init(interpreter: PythonInterpreter, pythonDirectory: String, environment: [String: String]) {
        self.interpreter = interpreter
        self.pythonDirectory = pythonDirectory
        self.inheritedEnvironment = environment.filter { Self.inheritedNames.contains($0.key) }
    }

    /// The host's environment for `invocation`.
    func environment(for invocation: ActionInvocation) -> [String: String] {
        var environment = inheritedEnvironment
        if environment["PATH"] == nil { environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        environment["PYTHONPATH"] = pythonDirectory + ":" + invocation.driverDirectory
        environment["PYTHONIOENCODING"] = "utf-8"
        environment["PYTHONUNBUFFERED"] = "1"
        // Hosts write no bytecode: a dry-run's driver directory is the author's
        // own, and only the engine writes what hosts load (``BytecodeCache``).
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        for (key, value) in invocation.extraEnvironment { environment[key] = value }
        if case .user = isolation { environment["FLOWRUNNER_HOST_SHIELD"] = "1" }
        return environment
    }

    /// Runs the action to its end (see the type's contract).
    public func run(_ invocation: ActionInvocation, handler: some ActionCallHandler) async -> ActionOutcome {
        var invocation = invocation
        guard let directory = realpath(invocation.driverDirectory, nil) else {
            let reason = "the driver directory \(invocation.driverDirectory) cannot be opened: \(String(cString: strerror(errno)))"
            return ActionOutcome(status: .failed, error: ActionError(type: "HostStartFailed", message: reason), logBytesDropped: 0)
        }
        invocation.driverDirectory = String(cString: directory)
        free(directory)
        await BytecodeCache.shared.prepare(directory: pythonDirectory, interpreter: interpreter, pythonDirectory: pythonDirectory)
        if invocation.driverDirectoryIsEngineCopy {
            await BytecodeCache.shared.prepare(directory: invocation.driverDirectory, interpreter: interpreter, pythonDirectory: pythonDirectory)
        }
        let child: ChildProcess
        do {
            var confinement: Confinement?
            if case .user(let user) = isolation {
                let extra = await protectedFilesProvider?() ?? []
                confinement = try self.confinement(for: user, driverDirectory: invocation.driverDirectory, hiding: extra)
            }
            child = try ChildProcess.spawn(
                executable: interpreter.path, arguments: ["-S", pythonDirectory + "/flowrunner_host.py"],
                environment: environment(for: invocation), workingDirectory: invocation.driverDirectory,
                confinement: confinement, niceness: hostNiceness
            )
        } catch {
            return ActionOutcome(status: .failed, error: ActionError(type: "HostStartFailed", message: error.reason), logBytesDropped: 0)
        }
        let session = HostSession(runner: self, invocation: invocation, child: child)
        return await session.run(handler: handler)
    }
}
