/// The file system an isolated action host sees: the engine's view with
/// some directories covered by empty tmpfs mounts, some files covered by
/// `/dev/null`, and the directories the host needs shown again, read-only,
/// at their own paths (so a pyenv interpreter's RPATH and `sys.prefix`
/// still hold).
///
/// Rules, on canonical paths:
/// - A directory to hide is covered, unless it is `/` or a shared scratch
///   directory (world-writable and sticky, like `/tmp`), where only the
///   named files are covered.
/// - A directory to show that the action user could not reach (an
///   ancestor it may not enter, like a `0700` home) or that lies in a hidden
///   directory gets that ancestor covered and itself bound back.
/// - The deepest mount wins: a hidden directory or file inside a shown one
///   is covered again after the binds.
struct MountPlan: Sendable, Hashable {
    /// One mount step, in order (see `fr_mount_kind` in CSandboxSpawn).
    enum Step: Sendable, Hashable {
        /// An empty tmpfs over the directory.
        case cover(String)
        /// Creates the directory (a mount point inside a tmpfs).
        case makeDirectory(String)
        /// Binds the directory read-only onto its own path.
        case show(String)
        /// Covers the file with `/dev/null`.
        case maskFile(String)
    }

    var steps: [Step] = []

    /// Plans the mounts for `user`.
    /// - Parameters:
    ///   - show: directories the host needs (interpreter prefix, bundled package, driver).
    ///   - hideDirectories: directories that must not be visible (state directory, home).
    ///   - hideFiles: files that must not be readable (state file and its journals, kubeconfig).
    init(user: ActionUser, show: [String], hideDirectories: [String], hideFiles: [String]) {
        let access = FileAccess(user)
        var shown: [String] = []
        for path in show.compactMap(FileAccess.canonical).sorted() where !shown.contains(where: { path.isWithin($0) }) {
            shown.append(path)
        }
        var hidden = Set(hideDirectories.compactMap(FileAccess.canonical).filter { path in
            path != "/" && FileAccess.isDirectory(path) && !Self.isSharedScratch(path)
        })
        for path in shown {
            if let blocked = Self.ancestors(of: path).first(where: { !access.canSearch($0) }) { hidden.insert(blocked) }
        }
        let outer = hidden.filter { candidate in !hidden.contains { $0 != candidate && candidate.isWithin($0) } }.sorted()
        let inner = hidden.subtracting(outer).filter { candidate in shown.contains { candidate.isWithin($0) } }.sorted()

        steps = outer.map(Step.cover)
        for path in shown {
            guard let cover = outer.filter({ path.isWithin($0) }).max(by: { $0.count < $1.count }) else { continue }
            for component in Self.ancestors(of: path) where component.count > cover.count {
                steps.append(.makeDirectory(component))
            }
            if path != cover { steps.append(.makeDirectory(path)) }
            steps.append(.show(path))
        }
        steps += inner.map(Step.cover)

        let covers = outer + inner
        for file in Set(hideFiles.compactMap(FileAccess.canonical)).sorted() {
            let deepestCover = covers.filter { file.isWithin($0) }.map(\.count).max() ?? -1
            let deepestShown = shown.filter { file.isWithin($0) }.map(\.count).max() ?? -1
            if deepestCover < 0 || deepestShown > deepestCover { steps.append(.maskFile(file)) }
        }
    }

    /// The proper ancestors of a canonical path, outermost first, without `/`.
    static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var current = ""
        let components = path.split(separator: "/")
        for component in components.dropLast() {
            current += "/" + component
            result.append(current)
        }
        return result
    }

    /// True for a world-writable sticky directory such as `/tmp`: covering
    /// it would take every process's scratch space from the action.
    static func isSharedScratch(_ path: String) -> Bool {
        guard let info = FileAccess.status(path) else { return false }
        return info.st_mode & 0o1002 == 0o1002
    }
}
