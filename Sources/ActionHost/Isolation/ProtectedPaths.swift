/// The engine's files an isolated action host must not see.
public struct ProtectedPaths: Sendable, Hashable {
    /// Directories covered by an empty tmpfs (parts the host needs are shown again).
    public var directories: [String]
    /// Files covered by `/dev/null` wherever they would still be visible.
    public var files: [String]

    public init(directories: [String] = [], files: [String] = []) {
        self.directories = directories
        self.files = files
    }

    /// The usual set for an engine: the state directory and the state file
    /// with its SQLite journals (`-wal`, `-shm`, `-journal`), the engine
    /// user's home directory (`$HOME`: `~/.flowrunner`, `~/.kube`, cloud
    /// credentials), and every file named by `$KUBECONFIG` (a `:`-separated
    /// list, as kubectl reads it).
    /// - Parameters:
    ///   - stateFile: the state database, nil when the store is not a file.
    ///   - environment: the engine's environment.
    public static func engine(stateFile: String?, environment: [String: String]) -> ProtectedPaths {
        var paths = ProtectedPaths()
        if let stateFile {
            let directory = stateFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            paths.directories.append(directory.isEmpty ? (stateFile.hasPrefix("/") ? "/" : ".") : directory)
            paths.files += [stateFile, stateFile + "-wal", stateFile + "-shm", stateFile + "-journal"]
        }
        if let home = environment["HOME"], !home.isEmpty {
            paths.directories.append(home)
            paths.files.append(home + "/.kube/config")
        }
        for file in (environment["KUBECONFIG"] ?? "").split(separator: ":") where !file.isEmpty {
            paths.files.append(String(file))
        }
        return paths
    }
}
