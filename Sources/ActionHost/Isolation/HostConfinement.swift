#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ActionRunner {
    /// The confinement of a host that runs `driverDirectory`'s action as
    /// `user`: the interpreter's prefixes (its virtualenv and its base
    /// installation), the bundled package, the driver directory and the user
    /// site-packages are shown; ``protectedPaths`` are hidden.
    /// - Throws: ``ActionHostError/Code/isolationUnavailable`` when `user`
    ///   could not run the interpreter or read the package or driver files,
    ///   naming the path and the way out.
    func confinement(for user: ActionUser, driverDirectory: String, hiding extraFiles: [String] = []) throws(ActionHostError) -> Confinement {
        let access = FileAccess(user)
        let executable = FileAccess.canonical(interpreter.path) ?? interpreter.path
        let waiver = "or pass --unisolated-actions to let actions run with the engine's own access"
        guard access.canExecute(executable) else {
            throw ActionHostError(.isolationUnavailable, "the action user \(user) may not run the interpreter \(executable); name one it can run with --python, \(waiver)")
        }
        for directory in [pythonDirectory, driverDirectory] {
            if let unreadable = access.firstUnreadable(in: directory) {
                throw ActionHostError(.isolationUnavailable, "the action user \(user) cannot read \(unreadable); make \(directory) readable by others (chmod -R o+rX), \(waiver)")
            }
        }
        var show = [Self.prefix(of: interpreter.path), Self.prefix(of: executable), pythonDirectory, driverDirectory]
        if let home = inheritedEnvironment["HOME"], !home.isEmpty {
            show.append(home + "/.local/lib")
        }
        let plan = MountPlan(user: user, show: show, hideDirectories: protectedPaths.directories, hideFiles: protectedPaths.files + extraFiles)
        return Confinement(user: user, plan: plan)
    }

    /// `/a/b` for `/a/b/bin/python3`: the installation (or virtualenv) an interpreter belongs to.
    static func prefix(of executable: String) -> String {
        var components = executable.split(separator: "/").map(String.init)
        components.removeLast(min(2, components.count))
        return "/" + components.joined(separator: "/")
    }
}
