public import FlowModel

/// A call the host may answer by itself (local replay, issue 22): the engine
/// already knows it replays, so the host answers it from its recorded
/// result without a round trip and tells the engine afterwards, in one
/// `replayed` message with the calls it answered, in order.
///
/// The engine sends these, in call order, with the action's `start`
/// message: the calls the action makes if it runs as its earlier attempt
/// did. The host answers the next call itself only when its kind, name and
/// arguments (compared as canonical JSON) equal the next step's; at the first
/// call that differs it stops answering and sends every later call to the
/// engine, which decides as always (divergence detection included). The
/// engine still decides every call the host answered, in order, and checks
/// that it replays the same result (``ActionRunner`` fails the action with a
/// `ProtocolError` if not), so a host that answers wrongly cannot go unseen.
public struct LocalReplayStep: Sendable, Hashable {
    /// `primitive` or `task` (built-in steps are not made by actions).
    public var kind: StepKind
    /// The name the call must have: a primitive's canonical name, a task's name.
    public var name: String
    /// The arguments the call must have (a primitive's after normalization).
    public var arguments: JSONValue
    /// The recorded result the call is answered with (stored JSON text; nil: `null`).
    public var resultJSON: String?

    /// A step the host may answer.
    public init(kind: StepKind, name: String, arguments: JSONValue, resultJSON: String?) {
        self.kind = kind
        self.name = name
        self.arguments = arguments
        self.resultJSON = resultJSON
    }

    /// The recorded result as the reply carries it.
    public var result: JSONValue { JSONValue(storedText: resultJSON) ?? .null }

    /// `{"kind", "name", "args", "value"}`, as the `start` message's `replay` list holds it.
    var json: JSONValue {
        ["kind": .string(kind.rawValue), "name": .string(name), "args": arguments, "value": result]
    }

    /// Whether `reply`, the engine's own answer to the call, is the answer the host gave.
    func agrees(with reply: ActionReply) -> Bool {
        switch (kind, reply) {
        case (.primitive, .value(let value)), (.task, .replayTask(let value)): value == result
        default: false
        }
    }
}
