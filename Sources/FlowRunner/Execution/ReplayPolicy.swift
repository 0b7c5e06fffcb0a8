import ActionHost
import FlowModel

/// Which recorded steps an attempt may replay.
struct ReplayPolicy: Sendable, Hashable {
    /// Replay only steps with a lower sequence number (nil: no bound).
    var beforeStep: Int?
    /// Replay nothing.
    var restart: Bool

    static let matching = ReplayPolicy(beforeStep: nil, restart: false)

    /// Reads the run's stored policy (`{"from_step": N}`, `{"restart": true}`).
    init(storedJSON: String?) {
        let value = JSONValue(storedText: storedJSON)
        beforeStep = value?["from_step"]?.intValue
        restart = value?["restart"]?.boolValue ?? false
    }

    init(beforeStep: Int?, restart: Bool) {
        self.beforeStep = beforeStep
        self.restart = restart
    }

    /// The stored form (nil for the default policy).
    var storedJSON: String? {
        if restart { return JSONValue.object(["restart": true]).jsonText }
        if let beforeStep { return JSONValue.object(["from_step": .int(beforeStep)]).jsonText }
        return nil
    }

    func allowsReplay(of seq: Int) -> Bool {
        !restart && (beforeStep.map { seq < $0 } ?? true)
    }
}
