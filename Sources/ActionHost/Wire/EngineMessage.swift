import FlowModel

/// A message from the engine to the Python host (protocol 1): `start` after
/// the host's hello (with the calls the host may answer itself, ``LocalReplayStep``),
/// `result` answering a call or task end, `cancel`.
enum EngineMessage: Sendable {
    /// Run this action function.
    case start(ActionInvocation)
    /// The answer to the call with `id`.
    case result(id: JSONValue, reply: ActionReply)
    /// Stop the action (`reason` is `timeout` or `cancelled`).
    case cancel(reason: String)

    /// The message as one JSON value.
    var json: JSONValue {
        switch self {
        case .start(let invocation):
            var message: [String: JSONValue] = [
                "type": "start", "protocol": 1, "action": .string(invocation.action), "file": .string(invocation.file),
                "function": .string(invocation.function), "directory": .string(invocation.driverDirectory),
                "arguments": .object(invocation.arguments), "flow_run": .object(invocation.flowRun),
            ]
            if !invocation.localReplay.isEmpty { message["replay"] = .array(invocation.localReplay.map(\.json)) }
            return .object(message)
        case .result(let id, let reply):
            var message: [String: JSONValue] = ["type": "result", "id": id]
            switch reply {
            case .value(let value):
                message["ok"] = true
                message["value"] = value
            case .failure(let error):
                message["ok"] = false
                message["error"] = error.json
            case .replayTask(let value):
                message["ok"] = true
                message["replay"] = true
                message["value"] = value
            case .runTask(let step):
                message["ok"] = true
                message["replay"] = false
                message["step"] = step
            }
            return .object(message)
        case .cancel(let reason):
            return ["type": "cancel", "reason": .string(reason)]
        }
    }

    /// The message as one protocol line: compact JSON and a newline.
    var line: [UInt8] {
        var bytes = [UInt8](json.jsonBytes)
        bytes.append(0x0A)
        return bytes
    }
}
