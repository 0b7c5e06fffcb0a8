import FlowModel

/// A message from the Python host (`flowrunner_host.py`), decoded from one
/// JSON line of protocol 1: `hello`, `flow`, `log`, `call`, `replayed`, `call_cancel`, `task_end`, `done`.
enum HostMessage: Sendable {
    /// The host started: the protocol it speaks and its Python version.
    case hello(protocolVersion: Int?, pythonVersion: String?)
    /// The action's `@flow` options, read when the action module loaded.
    case flow(FlowOptions)
    /// A log line of the action (prints, `logging`, `get_run_logger()`).
    case log(ActionLogLine)
    /// A primitive or a task begins; `id` is echoed in the reply.
    case call(id: JSONValue, call: ActionCall)
    /// Calls the host answered itself from their recorded results (local
    /// replay, ``LocalReplayStep``), in the order the action made them, sent
    /// before any later message: the engine decides and records each.
    /// `offered` is the call's index in the start message's `replay` list.
    case replayed([(offered: Int, call: ActionCall)])
    /// The host stopped waiting for the call `id` (its task timed out or was
    /// cancelled): the engine cancels the call, so a primitive gives up (and
    /// deletes its job) instead of running on unseen. Unknown or answered ids are ignored.
    case callCancel(id: JSONValue)
    /// A task ended; `step` is the engine's token from its `runTask` reply.
    case taskEnd(id: JSONValue, step: JSONValue, result: Result<JSONValue, ActionError>, attempts: Int)
    /// The action finished (the host exits next).
    case done(HostDone)
}

/// The `done` message: how the action ended.
struct HostDone: Sendable {
    /// The action returned (`ok: true`).
    var succeeded: Bool
    /// The action stopped because it was cancelled.
    var cancelled: Bool
    /// What the action returned.
    var value: JSONValue
    /// Why it failed, when it did.
    var error: JSONValue?
    /// Log bytes the host dropped past its cap.
    var logBytesDropped: Int
    /// How many calls the host answered itself (local replay), when it was offered any.
    var answeredLocally: Int?
}

/// A message the host sent that protocol 1 does not allow.
struct HostMessageError: Error, Sendable {
    /// What was wrong, for the action's `ProtocolError`.
    var reason: String
}

extension HostMessage {
    /// Decodes a parsed protocol line.
    ///
    /// - Throws: ``HostMessageError`` for an unknown type or kind, or a call
    ///   or task end without the members it needs.
    init(json message: JSONValue, now: () -> Double) throws(HostMessageError) {
        switch message["type"]?.stringValue {
        case "hello":
            self = .hello(protocolVersion: message["protocol"]?.intValue, pythonVersion: message["python"]?.stringValue)
        case "flow":
            self = .flow(Self.flowOptions(message["options"]))
        case "log":
            self = .log(ActionLogLine(
                level: message["level"]?.stringValue ?? "info", logger: message["logger"]?.stringValue ?? "action",
                message: message["message"]?.stringValue ?? "", time: message["time"]?.doubleValue ?? now()
            ))
        case "call":
            guard let id = message["id"] else { throw HostMessageError(reason: "a call without id or name") }
            self = .call(id: id, call: try Self.call(message))
        case "replayed":
            guard let calls = message["calls"]?.arrayValue, !calls.isEmpty else {
                throw HostMessageError(reason: "a replayed message without calls")
            }
            var decoded: [(offered: Int, call: ActionCall)] = []
            decoded.reserveCapacity(calls.count)
            for call in calls {
                guard let index = call["n"]?.intValue, index >= 0 else {
                    throw HostMessageError(reason: "a replayed call without its index n")
                }
                decoded.append((index, try Self.call(call)))
            }
            self = .replayed(decoded)
        case "call_cancel":
            guard let id = message["id"] else { throw HostMessageError(reason: "a call cancel without id") }
            self = .callCancel(id: id)
        case "task_end":
            guard let id = message["id"] else { throw HostMessageError(reason: "a task end without id") }
            let result: Result<JSONValue, ActionError> = message["ok"]?.boolValue == true
                ? .success(message["value"] ?? .null)
                : .failure(ActionError(json: message["error"], fallbackType: "Exception"))
            self = .taskEnd(id: id, step: message["step"] ?? .null, result: result, attempts: message["attempts"]?.intValue ?? 1)
        case "done":
            self = .done(HostDone(
                succeeded: message["ok"]?.boolValue == true, cancelled: message["cancelled"]?.boolValue == true,
                value: message["value"] ?? .null, error: message["error"],
                logBytesDropped: max(0, message["log_bytes_dropped"]?.intValue ?? 0),
                answeredLocally: message["answered_locally"]?.intValue
            ))
        default:
            throw HostMessageError(reason: "a message of unknown type \(message["type"]?.jsonText ?? "null")")
        }
    }

    /// The primitive or task begin a `call` message (or an entry of `replayed`) makes.
    static func call(_ message: JSONValue) throws(HostMessageError) -> ActionCall {
        guard let name = message["name"]?.stringValue else { throw HostMessageError(reason: "a call without id or name") }
        let arguments = message["args"] ?? .object([:])
        switch message["kind"]?.stringValue {
        case StepKind.primitive.rawValue:
            return .primitive(name: name, deployment: message["deployment"]?.stringValue, arguments: arguments)
        case StepKind.task.rawValue:
            return .taskBegin(name: name, arguments: arguments)
        default:
            throw HostMessageError(reason: "a call of unknown kind \(message["kind"]?.jsonText ?? "null")")
        }
    }

    /// The `options` of a `flow` message (Prefect's `@flow` arguments).
    static func flowOptions(_ json: JSONValue?) -> FlowOptions {
        FlowOptions(
            name: json?["name"]?.stringValue,
            retries: json?["retries"]?.intValue ?? 0,
            retryDelaySeconds: json?["retry_delay_seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? [0],
            timeoutSeconds: json?["timeout_seconds"]?.doubleValue,
            logPrints: json?["log_prints"]?.boolValue,
            description: json?["description"]?.stringValue
        )
    }
}
