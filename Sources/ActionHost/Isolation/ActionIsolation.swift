import CSandboxSpawn

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How action hosts are kept away from the engine (DESIGN.md, "Python action host").
///
/// Action code may act only through primitives. An isolated host runs as
/// an unprivileged ``ActionUser`` in a private mount namespace where the
/// engine's state directory, its home directory and its kubeconfig files
/// are hidden, and only the interpreter, the bundled package and the
/// driver's files are shown, read-only. A different user also shuts the
/// engine's `/proc/<pid>/environ` and `/proc/<pid>/fd`, and no descriptor
/// of the engine's is inherited.
public enum ActionIsolation: Sendable, Hashable {
    /// Hosts run as `user` in their own mount namespace.
    case user(ActionUser)
    /// Hosts run as the engine's own user and see what it sees: chosen by
    /// the operator (`--unisolated-actions`), and recorded with each action run.
    case unisolated

    /// The isolation for this engine process.
    ///
    /// - Parameters:
    ///   - user: `--action-user` (a name, a uid, or `uid:gid`); nil means `nobody`.
    ///   - unisolated: `--unisolated-actions`.
    ///   - effectiveUserID: the engine's effective uid (switching users needs 0); nil: this process's.
    /// - Throws: ``ActionHostError/Code/isolationUnavailable`` when isolation is
    ///   impossible and not waived, or when both options are given.
    public static func resolve(
        user: String?, unisolated: Bool, effectiveUserID: UInt32? = nil
    ) throws(ActionHostError) -> ActionIsolation {
        if unisolated {
            if let user {
                throw ActionHostError(.isolationUnavailable, "--action-user \(user) and --unisolated-actions contradict each other; give one")
            }
            return .unisolated
        }
        let effectiveUserID = effectiveUserID ?? geteuid()
        guard effectiveUserID == 0 else {
            throw ActionHostError(.isolationUnavailable, """
                action code is kept from the engine's files and secrets by running it as another user, which needs the engine \
                to run as root (it runs as uid \(effectiveUserID)); run it as root, or pass --unisolated-actions to let actions \
                run with the engine's own access (recorded with each run)
                """)
        }
        return .user(try ActionUser.lookup(user ?? "nobody"))
    }

    /// Closes this (engine) process's `/proc/<pid>/environ`, `fd/` and
    /// `mem` to its action hosts, whatever user they run as: the process
    /// becomes non-dumpable (no core dumps either).
    public static func shieldEngineProcess() {
        _ = fr_make_non_dumpable()
    }
}

/// The unprivileged account an isolated action host runs as.
public struct ActionUser: Sendable, Hashable, CustomStringConvertible {
    /// The account's name, or its uid when it has none.
    public var name: String
    public var uid: UInt32
    /// The primary group; the host gets no supplementary groups.
    public var gid: UInt32

    public init(name: String, uid: UInt32, gid: UInt32) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    public var description: String { name }

    /// Finds `spec`: an account name from the user database, a numeric uid
    /// (its group from the database, else the same number), or `uid:gid`.
    /// - Throws: ``ActionHostError/Code/isolationUnavailable`` for an unknown
    ///   name or for root (uid or gid 0), which would isolate nothing.
    public static func lookup(_ spec: String) throws(ActionHostError) -> ActionUser {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let user: ActionUser
        if parts.count == 2, let uid = UInt32(parts[0]), let gid = UInt32(parts[1]) {
            user = ActionUser(name: spec, uid: uid, gid: gid)
        } else if parts.count == 1, let uid = UInt32(spec) {
            let gid = getpwuid(uid).map { $0.pointee.pw_gid } ?? uid
            user = ActionUser(name: spec, uid: uid, gid: gid)
        } else if parts.count == 1, !spec.isEmpty, let entry = getpwnam(spec) {
            user = ActionUser(name: spec, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
        } else {
            throw ActionHostError(.isolationUnavailable, "--action-user: no user \"\(spec)\" on this machine (expected a user name, a uid or uid:gid)")
        }
        guard user.uid != 0, user.gid != 0 else {
            throw ActionHostError(.isolationUnavailable, "--action-user \(spec): actions cannot be isolated as root (uid 0 or gid 0); name an unprivileged user")
        }
        return user
    }
}
