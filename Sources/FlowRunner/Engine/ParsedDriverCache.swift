import DriverSpec
import Synchronization

/// Driver versions already read from the store and parsed, by content
/// digest: a stored version's files never change, so a long-running engine
/// (`serve`) parses each once instead of at every hook request. Holds at
/// most ``capacity`` versions; past it, the cache starts again empty.
final class ParsedDriverCache: Sendable {
    /// The most versions kept.
    let capacity: Int
    private let entries = Mutex<[String: Engine.LoadedDriverVersion]>([:])

    init(capacity: Int = 32) {
        self.capacity = capacity
    }

    /// The version parsed from files whose digest is `digest`, if cached.
    func version(digest: String) -> Engine.LoadedDriverVersion? {
        entries.withLock { $0[digest] }
    }

    /// Keeps `version` under its snapshot's digest.
    func keep(_ version: Engine.LoadedDriverVersion) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll() }
            entries[version.record.digest] = version
        }
    }
}
