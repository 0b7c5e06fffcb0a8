public import Foundation
public import StateStore

extension LeaseOwner {
    /// The owner name for this process (`cli-1234@host`).
    public static func current(role: String) -> LeaseOwner {
        LeaseOwner(role: role, processID: getpid(), host: hostName)
    }

    /// This machine's host name.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when this owner is a process of this machine that no longer
    /// exists (or is a zombie): its lease is abandoned and the run can be
    /// recovered at once instead of when the lease expires. Owners on other
    /// hosts are never judged gone here: their leases expire.
    public var isKnownGone: Bool {
        guard host == Self.hostName, processID > 0, processID != getpid() else { return false }
        if kill(processID, 0) != 0 { return errno == ESRCH }
        let stat = try? String(contentsOfFile: "/proc/\(processID)/stat", encoding: .utf8)
        let state = stat?.split(separator: ")").last?.split(separator: " ").first
        return state == "Z" || state == "X"
    }
}

extension RunRecord {
    /// True when a running (or cancelling) run's worker is gone: a dead
    /// process of this machine, or a lease that expired before `now` (the
    /// store's ``StateStore/currentTime()``: leases are judged by its clock).
    public func isAbandoned(now: Date) -> Bool {
        if let leaseOwner, leaseOwner.isKnownGone { return true }
        return leaseExpiresAt.map { $0 < now } ?? true
    }
}
