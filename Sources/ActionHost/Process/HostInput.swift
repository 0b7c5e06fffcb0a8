import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine's end of a host's stdin: lines written in the order they are
/// given, and never a blocked cooperative thread.
///
/// Contract: the descriptor is made non-blocking and owned here. A line is
/// written at once, on the caller's thread, when nothing is queued before it
/// and the pipe takes it whole (a host that reads keeps its pipe nearly
/// empty: no thread handoff per reply). Otherwise the line, or what the pipe
/// did not take, waits on a serial queue whose thread sleeps in `poll` until
/// the host reads or its end closes (after ``close()``, at most 200 ms more
/// per line). After ``close()`` later lines are dropped;
/// the descriptor is closed once every line before it is written or has failed.
/// A write that fails (the host is gone) drops its line, as a closed pipe would.
final class HostInput: Sendable {
    private struct State {
        /// Lines (or their rests) on the queue, not yet written.
        var queued = 0
        /// Whether ``close()`` was called.
        var closing = false
        /// Whether the descriptor is still open.
        var open = true
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "flowrunner.host.writer")

    /// Takes `fd`, the write end of a host's stdin.
    init(fd: Int32) {
        self.fd = fd
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Writes `bytes` after every line given before (see the type's contract).
    func write(_ bytes: [UInt8]) {
        let rest: ArraySlice<UInt8>? = state.withLock { state in
            guard !state.closing, state.open else { return nil }
            var offset = 0
            if state.queued == 0 {
                guard let written = Self.writeAvailable(fd, bytes[...]) else { return nil }
                offset = written
                if offset == bytes.count { return nil }
            }
            state.queued += 1
            return bytes[offset...]
        }
        guard let rest else { return }
        queue.async { [self] in
            // Only this queue closes the descriptor: open here means open for the whole write.
            if state.withLock({ $0.open }) { writeAll(rest) }
            state.withLock { $0.queued -= 1 }
        }
    }

    /// Drops later lines; closes the descriptor after the lines before.
    func close() {
        state.withLock { $0.closing = true }
        queue.async { [self] in
            state.withLock { state in
                guard state.open else { return }
                state.open = false
                closeDescriptor(fd)
            }
        }
    }

    /// Writes what the pipe takes now: the count (0 when it is full), nil when the write fails.
    private static func writeAvailable(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Int? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                writeDescriptor(fd, buffer.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? offset : nil
            }
            offset += written
        }
        return offset
    }

    /// Writes all of `bytes`, sleeping in `poll` while the pipe is full;
    /// stops when a write fails, or when the pipe stays full after ``close()``
    /// (the host is gone; a process outside its group may still hold its stdin).
    private func writeAll(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        while !rest.isEmpty {
            guard let written = Self.writeAvailable(fd, rest) else { return }
            rest = rest.dropFirst(written)
            if rest.isEmpty { return }
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let count = poll(&ready, 1, 200)
            if count < 0 && errno != EINTR { return }
            if count == 0 && state.withLock({ $0.closing }) { return }
            if ready.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return }
        }
    }
}

// The C calls, outside the type (whose `write` and `close` would shadow them).
private func writeDescriptor(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

private func closeDescriptor(_ fd: Int32) {
    close(fd)
}
