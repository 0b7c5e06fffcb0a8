import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Python host started before its action is known
/// (``ActionRunner/prepare(driverDirectory:isEngineCopy:)``), so that its
/// interpreter starts while the engine does other work (a run's values
/// render). Until it gets its start message it runs no driver code: it says
/// hello and waits on its stdin.
///
/// Contract: it is used by at most one ``ActionRunner/run(_:handler:prepared:)``
/// whose driver directory is the one it was started in; any other use, and
/// ``discard()``, kill its process group and reap it on a thread of their own,
/// and so does its release when nothing took it. A host whose engine dies
/// reads the end of its stdin and exits.
public final class PreparedHost: Sendable {
    /// The driver directory it was started in (resolved, no symbolic links).
    let driverDirectory: String
    let child: ChildProcess
    private let taken = Atomic<Bool>(false)

    init(driverDirectory: String, child: ChildProcess) {
        self.driverDirectory = driverDirectory
        self.child = child
    }

    /// The process, for a run in `directory` (resolved); nil when that is not
    /// where it was started or it was taken or discarded before (it is then discarded).
    func take(for directory: String) -> ChildProcess? {
        guard directory == driverDirectory else {
            discard()
            return nil
        }
        return taken.exchange(true, ordering: .acquiringAndReleasing) ? nil : child
    }

    /// Ends the host unless a run took it: kills its group, closes the
    /// engine's pipe ends and reaps it. Safe to call more than once.
    public func discard() {
        guard !taken.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let child = child
        child.signalGroup(SIGKILL)
        BlockingThread.start("flowrunner.host.discard") {
            _ = child.waitForExit()
            child.closeStdin()
            close(child.stdoutFD)
            close(child.stderrFD)
        }
    }

    deinit {
        discard()
    }
}
