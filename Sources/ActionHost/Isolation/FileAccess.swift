#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a user may do with a path, judged by its mode bits and owner
/// (POSIX permissions; ACLs are not consulted).
struct FileAccess: Sendable {
    var uid: UInt32
    var gid: UInt32

    init(_ user: ActionUser) {
        uid = user.uid
        gid = user.gid
    }

    /// The path's status, following symbolic links; nil when it does not exist.
    static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    static func isDirectory(_ path: String) -> Bool {
        status(path).map { ($0.st_mode & S_IFMT) == S_IFDIR } ?? false
    }

    /// The canonical absolute path (links resolved), or nil when it does not exist.
    static func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The permission bits that apply to this user: owner's, group's or others'.
    private func bits(_ info: stat) -> mode_t {
        if info.st_uid == uid { return (info.st_mode >> 6) & 7 }
        if info.st_gid == gid { return (info.st_mode >> 3) & 7 }
        return info.st_mode & 7
    }

    /// True when the user may enter the directory `path` (search permission).
    func canSearch(_ path: String) -> Bool {
        FileAccess.status(path).map { bits($0) & 1 != 0 } ?? false
    }

    /// True when the user may read the file `path`.
    func canRead(_ path: String) -> Bool {
        FileAccess.status(path).map { bits($0) & 4 != 0 } ?? false
    }

    /// True when the user may execute the file `path`.
    func canExecute(_ path: String) -> Bool {
        FileAccess.status(path).map { bits($0) & 1 != 0 } ?? false
    }

    /// The first file or directory below `directory` (itself included) the
    /// user cannot read or enter, walking at most `limit` entries; nil when
    /// all can be.
    func firstUnreadable(in directory: String, limit: Int = 10_000) -> String? {
        var pending = [directory], seen = 0
        while let current = pending.popLast() {
            guard canSearch(current), canRead(current) else { return current }
            guard let handle = opendir(current) else { return current }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                seen += 1
                if seen > limit { return nil }
                let path = current + "/" + name
                guard let info = FileAccess.status(path) else { continue }
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    pending.append(path)
                } else if !canRead(path) {
                    return path
                }
            }
        }
        return nil
    }
}

extension String {
    /// True when `self` is `directory` or lies below it (both canonical).
    func isWithin(_ directory: String) -> Bool {
        self == directory || directory == "/" || hasPrefix(directory.hasSuffix("/") ? directory : directory + "/")
    }
}
