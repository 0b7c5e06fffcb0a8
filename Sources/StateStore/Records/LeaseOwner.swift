/// The worker that holds a run's lease: a role, a host and the process on
/// that host (`cli-1234@runner-a`, `serve-88@runner-b`). Stored as that text.
///
/// Whether the owner is gone is judged by whoever can see its host (the
/// Scheduler checks processes of its own machine); the store only compares
/// owners and lease times.
public struct LeaseOwner: Sendable, Hashable, CustomStringConvertible {
    /// What kind of worker: `cli`, `serve`, `test`, ...
    public var role: String
    /// The process id on ``host``.
    public var processID: Int32
    /// The machine's host name.
    public var host: String

    /// Creates an owner name.
    public init(role: String, processID: Int32, host: String) {
        self.role = role
        self.processID = processID
        self.host = host
    }

    /// Parses `<role>-<pid>@<host>`; nil for text of another shape.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@"), let dash = text[..<at].lastIndex(of: "-"),
              let pid = Int32(text[text.index(after: dash)..<at]), pid > 0 else { return nil }
        role = String(text[..<dash])
        processID = pid
        host = String(text[text.index(after: at)...])
        guard !role.isEmpty, !host.isEmpty else { return nil }
    }

    /// `<role>-<pid>@<host>`.
    public var description: String { "\(role)-\(processID)@\(host)" }
}
