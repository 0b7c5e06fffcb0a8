public import FlowModel
/// What to run: one action function of a driver, and what the hook offers it.
public struct ActionInvocation: Sendable {
    /// The action's declared name (for messages and logs).
    public var action: String
    /// The driver directory: the working directory and the import path of the action.
    public var driverDirectory: String
    /// The Python file, relative to the driver directory.
    public var file: String
    /// The function in that file.
    public var function: String
    /// What the hook offers, passed by name: `context`, `deployment_id`,
    /// `target_version`, `current_version`, `parameters`.
    public var arguments: [String: JSONValue]
    /// `prefect.runtime.flow_run`: `id`, `name`, `parameters`.
    public var flowRun: [String: JSONValue]
    /// The engine's time limit for the action; the flow's own
    /// `timeout_seconds` applies when shorter. Nil: no engine limit.
    public var timeout: Duration?
    /// Added to the host's minimal environment.
    public var extraEnvironment: [String: String]
    /// True when the driver directory is the engine's own copy of a stored
    /// driver version, which ``BytecodeCache`` may byte-compile; false for an
    /// author's directory (a dry-run's), into which nothing is written.
    public var driverDirectoryIsEngineCopy = false
    /// The calls the host may answer itself from their recorded results, in
    /// call order (local replay, ``LocalReplayStep``); empty: every call goes to the engine.
    public var localReplay: [LocalReplayStep] = []

    /// Creates an invocation.
    public init(
        action: String, driverDirectory: String, file: String, function: String,
        arguments: [String: JSONValue], flowRun: [String: JSONValue] = [:],
        timeout: Duration? = nil, extraEnvironment: [String: String] = [:]
    ) {
        self.action = action
        self.driverDirectory = driverDirectory
        self.file = file
        self.function = function
        self.arguments = arguments
        self.flowRun = flowRun
        self.timeout = timeout
        self.extraEnvironment = extraEnvironment
    }
}

/// The options of an `@flow` decorator, as the host read them.
public struct FlowOptions: Sendable, Hashable {
    /// `name` (defaults to the function name).
    public var name: String?
    /// `retries`: how many more attempts after a failure.
    public var retries: Int
    /// `retry_delay_seconds`, one per retry (the last one repeats).
    public var retryDelaySeconds: [Double]
    /// `timeout_seconds`.
    public var timeoutSeconds: Double?
    /// `log_prints`.
    public var logPrints: Bool?
    /// `description`.
    public var description: String?

    /// The defaults of a plain function.
    public init(name: String? = nil, retries: Int = 0, retryDelaySeconds: [Double] = [0], timeoutSeconds: Double? = nil,
                logPrints: Bool? = nil, description: String? = nil) {
        self.name = name
        self.retries = retries
        self.retryDelaySeconds = retryDelaySeconds
        self.timeoutSeconds = timeoutSeconds
        self.logPrints = logPrints
        self.description = description
    }

    /// The delay before retry number `retry` (1-based), in seconds, forced
    /// into 0 s...one year (``Seconds/clamped(_:)``): it comes from action code.
    public func delay(beforeRetry retry: Int) -> Double {
        guard !retryDelaySeconds.isEmpty else { return 0 }
        return Seconds.clamped(retryDelaySeconds[min(max(retry - 1, 0), retryDelaySeconds.count - 1)])
    }
}

/// An error as the action sees it or raised it: Python exception type,
/// message, traceback, and structured details (a `CommandFailed`'s exit code).
public struct ActionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The exception type (`CommandFailed`, `KeyError`, ...) or the engine's
    /// name for a host failure (`Timeout`, `HostCrashed`, `ProtocolError`, ...).
    public var type: String
    /// The message.
    public var message: String
    /// The Python traceback, pointing at the author's lines, when there is one.
    public var traceback: String?
    /// Structured details for the action (e.g. `exit_code`, `output`).
    public var details: JSONValue?

    /// Creates an error.
    public init(type: String, message: String, traceback: String? = nil, details: JSONValue? = nil) {
        self.type = type
        self.message = message
        self.traceback = traceback
        self.details = details
    }

    /// `Type: message`.
    public var description: String { "\(type): \(message)" }

    /// `{"type", "message", "details"?}`, as sent to the host.
    var json: JSONValue {
        var members: [String: JSONValue] = ["type": .string(type), "message": .string(message)]
        if let traceback { members["traceback"] = .string(traceback) }
        if let details { members["details"] = details }
        return .object(members)
    }

    init(json: JSONValue?, fallbackType: String) {
        type = json?["type"]?.stringValue ?? fallbackType
        message = json?["message"]?.stringValue ?? "(no message)"
        traceback = json?["traceback"]?.stringValue
        details = json?["details"]
    }
}

/// One request of a running action to the engine.
public enum ActionCall: Sendable, Hashable {
    /// A primitive call: its name as called, the deployment named by
    /// `context=`/a leading `deployment_id` (nil: the run's own), the
    /// remaining arguments by name.
    case primitive(name: String, deployment: String?, arguments: JSONValue)
    /// A `@task` call is about to run: reply ``ActionReply/replayTask(_:)``
    /// with a recorded result, or ``ActionReply/runTask(step:)``.
    case taskBegin(name: String, arguments: JSONValue)
    /// A task that the engine let run has ended, after `attempts` attempts.
    /// `result` is `{"json": value}` or `{"pickle": ..., "repr": ...}`.
    case taskEnd(step: JSONValue, result: Result<JSONValue, ActionError>, attempts: Int)
}

/// A call as the runner hands it to the handler: `sequence` numbers the
/// calls that start a step (primitives and task begins) 1, 2, ... in the
/// order the action made them, whatever order they are handled in.
public struct ActionCallRequest: Sendable, Hashable {
    /// 1, 2, ... for primitives and task begins; 0 for task ends.
    public var sequence: Int
    /// The call.
    public var call: ActionCall
    /// True for a call the host already answered from its recorded result
    /// (``LocalReplayStep``): the handler records it, and must not execute
    /// it if its journal would not replay it (the runner then fails the action).
    public var answeredByHost: Bool

    /// Creates a request.
    public init(sequence: Int, call: ActionCall, answeredByHost: Bool = false) {
        self.sequence = sequence
        self.call = call
        self.answeredByHost = answeredByHost
    }
}

/// The engine's answer to a call.
public enum ActionReply: Sendable, Hashable {
    /// The primitive's result (or an acknowledgement of a task end).
    case value(JSONValue)
    /// The call failed; the action sees an exception of `error.type`.
    case failure(ActionError)
    /// The task is answered from its recorded result; its body does not run.
    case replayTask(JSONValue)
    /// The task runs; `step` identifies it in the matching task end.
    case runTask(step: JSONValue)
}

/// A log line written by the action (print, logging, stderr).
public struct ActionLogLine: Sendable, Hashable {
    /// `debug`, `info`, `warning`, `error` or `critical`.
    public var level: String
    /// `stdout`, `stderr`, a Python logger name, or `flowrunner`.
    public var logger: String
    /// The text, without a trailing newline.
    public var message: String
    /// Seconds since 1970.
    public var time: Double

    /// Creates a line.
    public init(level: String, logger: String, message: String, time: Double) {
        self.level = level
        self.logger = logger
        self.message = message
        self.time = time
    }
}

/// Serves an action's calls. Calls may arrive concurrently (`asyncio.gather`);
/// `log` is called from the runner's threads and must be thread-safe.
public protocol ActionCallHandler: Sendable {
    /// Executes or replays one call.
    func handle(_ request: ActionCallRequest) async -> ActionReply
    /// Stores one log line.
    func log(_ line: ActionLogLine)
    /// The host read the flow's options (before the function runs).
    func flowOptionsRead(_ options: FlowOptions)
    /// The action ended without the engine stopping it (its host exited or
    /// died): calls still in flight are about to be cancelled as cut off,
    /// not stopped on purpose (a cancel or timeout cancels them directly).
    func callsCutOff()
}

extension ActionCallHandler {
    public func flowOptionsRead(_ options: FlowOptions) {}
    public func callsCutOff() {}
}

/// How an action ended.
public struct ActionOutcome: Sendable, Hashable {
    /// The kinds of ending.
    public enum Status: String, Sendable, Hashable {
        case succeeded, failed, cancelled, timedOut
    }

    /// How it ended.
    public var status: Status
    /// The function's return value, when it succeeded.
    public var value: JSONValue?
    /// Why it did not succeed.
    public var error: ActionError?
    /// The flow's options, when the host got as far as reading them.
    public var flowOptions: FlowOptions?
    /// Log output dropped past the cap, in bytes.
    public var logBytesDropped: Int
    /// The host's Python version (`3.11.7`), when it said hello.
    public var pythonVersion: String?

    /// Creates an outcome.
    public init(status: Status, value: JSONValue? = nil, error: ActionError? = nil, flowOptions: FlowOptions? = nil,
                logBytesDropped: Int = 0, pythonVersion: String? = nil) {
        self.status = status
        self.value = value
        self.error = error
        self.flowOptions = flowOptions
        self.logBytesDropped = logBytesDropped
        self.pythonVersion = pythonVersion
    }
}
