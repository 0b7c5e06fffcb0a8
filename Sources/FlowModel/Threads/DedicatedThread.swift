#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Marks the threads that serve one piece of work alone and may block (a
/// host session's own thread), unlike the cooperative pool's threads, which
/// must never block. Code that hands a call that can block to a thread of
/// its own (a SQLite write that may wait for the file's lock) may make it
/// directly on a marked thread instead, saving two thread handoffs.
public enum DedicatedThread {
    /// A POSIX thread-specific key whose value is non-nil on marked threads.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// Marks the calling thread, for as long as it lives. Call it only on a
    /// thread created for the work (never on a cooperative or Dispatch thread).
    public static func markCurrent() {
        guard let key else { return }
        _ = pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
    }

    /// Whether the calling thread was marked by ``markCurrent()``.
    public static var isCurrent: Bool {
        guard let key else { return false }
        return pthread_getspecific(key) != nil
    }
}
