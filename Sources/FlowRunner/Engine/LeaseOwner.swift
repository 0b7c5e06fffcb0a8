import Foundation

/// Lease owner names: `<role>-<pid>@<host>`. A lease held by a process of
/// this machine that no longer exists is abandoned: its run can be resumed at
/// once instead of waiting for the lease to expire.
public enum LeaseOwner {
    /// The owner name for this process (`cli-1234@host`).
    public static func current(role: String) -> String {
        "\(role)-\(getpid())@\(hostName)"
    }

    /// This machine's host name.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `owner` names a process of this host that is gone (or a zombie).
    public static func isDeadLocalProcess(_ owner: String) -> Bool {
        guard let at = owner.lastIndex(of: "@"), owner[owner.index(after: at)...] == hostName,
              let dash = owner[..<at].lastIndex(of: "-"), let pid = Int32(owner[owner.index(after: dash)..<at]), pid > 0 else {
            return false
        }
        if pid == getpid() { return false }
        if kill(pid, 0) != 0 { return errno == ESRCH }
        let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let state = stat?.split(separator: ")").last?.split(separator: " ").first
        return state == "Z" || state == "X"
    }
}
