public import FlowModel
public import Foundation

/// Row ids of the store's records.
public typealias RecordID = Int64

/// A stored driver version: an immutable snapshot of a driver directory.
/// `number` counts the versions of one driver from 1, in load order.
public struct DriverVersionRecord: Sendable, Hashable {
    public var id: RecordID
    /// `metadata.name` of the driver.
    public var driver: String
    /// 1, 2, ... per driver: what `--driver-version N` names.
    public var number: Int
    /// `spec.version` as written in the spec.
    public var specVersion: String
    /// SHA-256 of the snapshot (hex).
    public var digest: String
    public var loadedAt: Date
    /// The absolute directory it was last loaded from (`drivers load DIR`):
    /// tracebacks name the author's files there rather than the stored copy.
    /// Nil for versions stored before this was kept.
    public var sourceDirectory: String? = nil

    /// Creates the record from its fields (the stores build it from their rows).
    public init(id: RecordID, driver: String, number: Int, specVersion: String, digest: String, loadedAt: Date, sourceDirectory: String? = nil) {
        self.id = id
        self.driver = driver
        self.number = number
        self.specVersion = specVersion
        self.digest = digest
        self.loadedAt = loadedAt
        self.sourceDirectory = sourceDirectory
    }
}

/// One file of a stored driver version.
public struct StoredDriverFile: Sendable, Hashable {
    /// Path relative to the driver directory.
    public var path: String
    public var contents: [UInt8]

    public init(path: String, contents: [UInt8]) {
        self.path = path
        self.contents = contents
    }
}

/// A deployment: a named installation of a driver at an app version.
public struct DeploymentRecord: Sendable, Hashable {
    public var id: RecordID
    public var name: String
    public var driver: String
    /// The pinned driver version.
    public var driverVersionID: RecordID
    /// The installed application version (empty until the setup hook succeeded).
    public var appVersion: String
    /// Parameter values, a JSON object.
    public var parametersJSON: String
    /// Deployment configuration, a JSON object.
    public var configJSON: String
    /// The cluster it lives on (`simulated` for the embedded simulator).
    public var cluster: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Keys of `configJSON` given with `--secret-config`: shown as `***`.
    public var secretConfigKeys: [String] = []
    /// The operator's inputs per component (`--env`, `--command`, `--args`),
    /// a JSON object `{COMPONENT: {"env": {NAME: VALUE}, "command": [..], "args": [..]}}`.
    public var componentsJSON: String = "{}"
    /// When its `delete` run succeeded; nil while it exists.
    public var deletedAt: Date? = nil

    /// Creates the record from its fields (the stores build it from their rows).
    public init(
        id: RecordID, name: String, driver: String, driverVersionID: RecordID, appVersion: String, parametersJSON: String,
        configJSON: String, cluster: String, createdAt: Date, updatedAt: Date, secretConfigKeys: [String] = [],
        componentsJSON: String = "{}", deletedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.driver = driver
        self.driverVersionID = driverVersionID
        self.appVersion = appVersion
        self.parametersJSON = parametersJSON
        self.configJSON = configJSON
        self.cluster = cluster
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.secretConfigKeys = secretConfigKeys
        self.componentsJSON = componentsJSON
        self.deletedAt = deletedAt
    }
}

/// What is needed to create a deployment.
public struct NewDeployment: Sendable, Hashable {
    public var name: String
    public var driver: String
    public var driverVersionID: RecordID
    public var appVersion: String
    public var parametersJSON: String
    public var configJSON: String
    /// The cluster the deployment lives on.
    public var cluster: String
    /// Keys of `configJSON` whose values are secret (shown as `***`).
    public var secretConfigKeys: [String]
    /// The operator's inputs per component (see ``DeploymentRecord/componentsJSON``).
    public var componentsJSON: String

    public init(name: String, driver: String, driverVersionID: RecordID, appVersion: String,
                parametersJSON: String = "{}", configJSON: String = "{}", cluster: String, secretConfigKeys: [String] = [],
                componentsJSON: String = "{}") {
        self.componentsJSON = componentsJSON
        self.cluster = cluster
        self.secretConfigKeys = secretConfigKeys.sorted()
        self.name = name
        self.driver = driver
        self.driverVersionID = driverVersionID
        self.appVersion = appVersion
        self.parametersJSON = parametersJSON
        self.configJSON = configJSON
    }
}

/// One execution of one hook on one deployment.
public struct RunRecord: Sendable, Hashable {
    public var id: RecordID
    public var deploymentID: RecordID
    /// The deployment's name (joined for convenience).
    public var deployment: String
    public var hook: Hook
    public var status: RunStatus
    /// 1 for the first attempt; each retry or recovery adds one.
    public var attempt: Int
    /// The hook's inputs (`target_version`, parameters, ...), a JSON object.
    public var inputsJSON: String
    /// The frozen GlobalContext, a JSON object; retries reuse it.
    public var contextJSON: String
    /// The driver version the run executes.
    public var driverVersionID: RecordID
    public var idempotencyKey: String?
    /// The worker holding the run, while running.
    public var leaseOwner: LeaseOwner?
    public var leaseExpiresAt: Date?
    /// The run is not claimed before this time (delayed retries).
    public var notBefore: Date?
    public var createdAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    /// Why the run failed or was cancelled, a JSON object, or nil.
    public var errorJSON: String?
    /// How the current attempt replays earlier steps (`{"from_step": N}`,
    /// `{"restart": true}`), a JSON object, or nil for the default.
    public var replayJSON: String?
    /// A digest of the request that created the run with ``idempotencyKey``
    /// (the HTTP API's body), to tell a repeat of that request from another
    /// request reusing the key; nil when none was given.
    public var requestDigest: String? = nil

    /// Creates the record from its fields (the stores build it from their rows).
    public init(
        id: RecordID, deploymentID: RecordID, deployment: String, hook: Hook, status: RunStatus, attempt: Int, inputsJSON: String,
        contextJSON: String, driverVersionID: RecordID, idempotencyKey: String?, leaseOwner: LeaseOwner?, leaseExpiresAt: Date?,
        notBefore: Date?, createdAt: Date, startedAt: Date?, endedAt: Date?, errorJSON: String?, replayJSON: String?,
        requestDigest: String? = nil
    ) {
        self.id = id
        self.deploymentID = deploymentID
        self.deployment = deployment
        self.hook = hook
        self.status = status
        self.attempt = attempt
        self.inputsJSON = inputsJSON
        self.contextJSON = contextJSON
        self.driverVersionID = driverVersionID
        self.idempotencyKey = idempotencyKey
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.notBefore = notBefore
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.errorJSON = errorJSON
        self.replayJSON = replayJSON
        self.requestDigest = requestDigest
    }
}

/// What is needed to create a run.
public struct NewRun: Sendable, Hashable {
    public var deploymentID: RecordID
    public var hook: Hook
    public var inputsJSON: String
    public var contextJSON: String
    public var driverVersionID: RecordID
    public var idempotencyKey: String?
    public var notBefore: Date?
    /// See ``RunRecord/requestDigest``.
    public var requestDigest: String?
    /// Created only when no other run of the deployment is queued, running
    /// or cancelling (a restore, a delete), checked in the creating transaction.
    public var exclusive = false

    public init(deploymentID: RecordID, hook: Hook, inputsJSON: String, contextJSON: String,
                driverVersionID: RecordID, idempotencyKey: String? = nil, notBefore: Date? = nil, requestDigest: String? = nil) {
        self.requestDigest = requestDigest
        self.deploymentID = deploymentID
        self.hook = hook
        self.inputsJSON = inputsJSON
        self.contextJSON = contextJSON
        self.driverVersionID = driverVersionID
        self.idempotencyKey = idempotencyKey
        self.notBefore = notBefore
    }
}

/// Which runs `runs(matching:)` returns, newest first.
public struct RunFilter: Sendable, Hashable {
    public var deployment: String?
    public var status: RunStatus?
    public var limit: Int
    /// Only runs with a smaller id (the next page after a page ending at this id).
    public var beforeID: RecordID?

    public init(deployment: String? = nil, status: RunStatus? = nil, limit: Int = 50, beforeID: RecordID? = nil) {
        self.deployment = deployment
        self.status = status
        self.limit = limit
        self.beforeID = beforeID
    }
}

/// One declared action inside a run.
public struct ActionRunRecord: Sendable, Hashable {
    public var id: RecordID
    public var runID: RecordID
    public var name: String
    public var mode: ActionMode
    /// Order of execution within the run (0, 1, ...).
    public var position: Int
    public var status: ActionRunStatus
    /// How many times the action has started.
    public var attempts: Int
    /// `{"type", "message", "traceback"}` of the last failure, or nil.
    public var errorJSON: String?
    public var startedAt: Date?
    public var endedAt: Date?
    /// How the action's host was confined when it last started: `user NAME`
    /// or `unisolated` (`--unisolated-actions`); nil before it started, for
    /// the built-in core, and for runs recorded before this was kept.
    public var isolation: String? = nil

    /// Creates the record from its fields (the stores build it from their rows).
    public init(
        id: RecordID, runID: RecordID, name: String, mode: ActionMode, position: Int, status: ActionRunStatus, attempts: Int,
        errorJSON: String?, startedAt: Date?, endedAt: Date?, isolation: String? = nil
    ) {
        self.id = id
        self.runID = runID
        self.name = name
        self.mode = mode
        self.position = position
        self.status = status
        self.attempts = attempts
        self.errorJSON = errorJSON
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.isolation = isolation
    }
}

/// One primitive call or `@task` call inside an action run.
public struct StepRecord: Sendable, Hashable {
    public var id: RecordID
    public var actionRunID: RecordID
    /// The run attempt the step belongs to.
    public var attempt: Int
    /// 1, 2, ... within the action run's attempt.
    public var seq: Int
    /// A primitive call, a task, or the engine's built-in core.
    public var kind: StepKind
    public var name: String
    /// Arguments, a JSON object.
    public var argsJSON: String
    /// Digest of the arguments that matter for replay.
    public var argsDigest: String
    public var status: StepStatus
    /// True when the result came from an earlier attempt's record.
    public var replayed: Bool
    /// The result, JSON, or nil.
    public var resultJSON: String?
    /// The error, a JSON object, or nil.
    public var errorJSON: String?
    public var startedAt: Date
    public var endedAt: Date?
    /// Where replay stopped because the action's calls differed from the
    /// recorded ones (a JSON object), on the first step that ran for real.
    public var divergenceJSON: String?

    /// Wall time of the step in milliseconds, once it ended.
    public var durationMilliseconds: Double? {
        endedAt.map { $0.timeIntervalSince(startedAt) * 1000 }
    }

    /// Creates the record from its fields (the stores build it from their rows).
    public init(
        id: RecordID, actionRunID: RecordID, attempt: Int, seq: Int, kind: StepKind, name: String, argsJSON: String, argsDigest: String,
        status: StepStatus, replayed: Bool, resultJSON: String?, errorJSON: String?, startedAt: Date, endedAt: Date?,
        divergenceJSON: String?
    ) {
        self.id = id
        self.actionRunID = actionRunID
        self.attempt = attempt
        self.seq = seq
        self.kind = kind
        self.name = name
        self.argsJSON = argsJSON
        self.argsDigest = argsDigest
        self.status = status
        self.replayed = replayed
        self.resultJSON = resultJSON
        self.errorJSON = errorJSON
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.divergenceJSON = divergenceJSON
    }
}

/// A step about to be recorded.
public struct NewStep: Sendable, Hashable {
    public var actionRunID: RecordID
    public var attempt: Int
    public var seq: Int
    public var kind: StepKind
    public var name: String
    public var argsJSON: String
    public var argsDigest: String

    public init(actionRunID: RecordID, attempt: Int, seq: Int, kind: StepKind, name: String, argsJSON: String, argsDigest: String) {
        self.actionRunID = actionRunID
        self.attempt = attempt
        self.seq = seq
        self.kind = kind
        self.name = name
        self.argsJSON = argsJSON
        self.argsDigest = argsDigest
    }
}

/// The end of a step that ran, given to the store after the step's answer
/// went to the action (see ``StateStore/finishSteps(_:)``): `status` is
/// `succeeded` or `failed`; `resultJSON` and `errorJSON` as in
/// ``StateStore/finishStep(id:status:resultJSON:errorJSON:)``.
public struct StepEnd: Sendable, Hashable {
    public var id: RecordID
    public var status: StepStatus
    public var resultJSON: String?
    public var errorJSON: String?

    public init(id: RecordID, status: StepStatus, resultJSON: String?, errorJSON: String?) {
        self.id = id
        self.status = status
        self.resultJSON = resultJSON
        self.errorJSON = errorJSON
    }
}

/// Severity of a log line.
public enum LogLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case debug, info, warning, error, critical
}

/// One log line of a run (stdout and stderr of an action are log lines too).
public struct LogRecord: Sendable, Hashable {
    public var id: RecordID
    public var runID: RecordID
    /// The action that wrote it, or nil for the engine.
    public var action: String?
    public var attempt: Int
    public var time: Date
    public var level: LogLevel
    /// `stdout`, `stderr`, a Python logger name, or `flowrunner`.
    public var logger: String
    public var message: String

    /// Creates the record from its fields (the stores build it from their rows).
    public init(id: RecordID, runID: RecordID, action: String?, attempt: Int, time: Date, level: LogLevel, logger: String, message: String) {
        self.id = id
        self.runID = runID
        self.action = action
        self.attempt = attempt
        self.time = time
        self.level = level
        self.logger = logger
        self.message = message
    }
}

/// A log line about to be stored.
public struct NewLogLine: Sendable, Hashable {
    public var runID: RecordID
    public var action: String?
    public var attempt: Int
    public var time: Date
    public var level: LogLevel
    public var logger: String
    public var message: String

    public init(runID: RecordID, action: String?, attempt: Int, time: Date = Date(), level: LogLevel, logger: String, message: String) {
        self.runID = runID
        self.action = action
        self.attempt = attempt
        self.time = time
        self.level = level
        self.logger = logger
        self.message = message
    }
}
