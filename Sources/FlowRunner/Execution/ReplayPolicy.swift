import ActionHost
import FlowModel

/// Which recorded steps an attempt may replay.
struct ReplayPolicy: Sendable, Hashable {
    /// Replay only steps with a lower sequence number (nil: no bound).
    var beforeStep: Int?
    /// Replay nothing.
    var restart: Bool
    /// The path of the action may differ from the recorded one (the driver
    /// version changed, ``following(previousErrorJSON:)``): replay stops at
    /// the first call that does not match. Otherwise (the attempt before was
    /// cut off by a crash) every call is matched by occurrence alone, so
    /// concurrent branches reaching the engine in another order, or a step
    /// cut off while running, never make a finished step run again.
    var stopsAtDivergence: Bool = false

    static let matching = ReplayPolicy(beforeStep: nil, restart: false)

    /// Reads the run's stored policy (`{"from_step": N}`, `{"restart": true}`,
    /// with `"strict": true` after a driver version change).
    init(storedJSON: String?) {
        let value = JSONValue(storedText: storedJSON)
        beforeStep = value?["from_step"]?.intValue
        restart = value?["restart"]?.boolValue ?? false
        stopsAtDivergence = value?["strict"]?.boolValue ?? false
    }

    init(beforeStep: Int?, restart: Bool, stopsAtDivergence: Bool = false) {
        self.beforeStep = beforeStep
        self.restart = restart
        self.stopsAtDivergence = stopsAtDivergence
    }

    /// The stored form (nil for the default policy).
    var storedJSON: String? {
        var members: [String: JSONValue] = [:]
        if restart { members["restart"] = true } else if let beforeStep { members["from_step"] = .int(beforeStep) }
        if stopsAtDivergence { members["strict"] = true }
        return members.isEmpty ? nil : JSONValue.object(members).jsonText
    }

    /// Error types of an attempt that was cut off rather than failed by the
    /// action's own doing: the host died, or the engine failed around it.
    static let interruptions: Set<String> = ["HostCrashed", "EngineError"]

    /// The policy for an attempt after one that ended with `previousErrorJSON`
    /// (the action run's stored error; nil when the attempt was cut off by a
    /// crash or the action never ran): after a failure of the action's own
    /// doing (an exception, a timeout, a cancel) its path may go elsewhere,
    /// so replay stops at the first call that does not match.
    func following(previousErrorJSON: String?) -> ReplayPolicy {
        guard let type = JSONValue(storedText: previousErrorJSON)?["type"]?.stringValue,
              !Self.interruptions.contains(type) else { return self }
        var policy = self
        policy.stopsAtDivergence = true
        return policy
    }

    func allowsReplay(of seq: Int) -> Bool {
        !restart && (beforeStep.map { seq < $0 } ?? true)
    }
}
