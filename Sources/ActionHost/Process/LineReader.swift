#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a descriptor to its end and cuts it into lines, refusing lines
/// longer than a limit. Blocking; run it on its own thread.
struct LineReader {
    /// What reading produced.
    enum Event {
        case line(ArraySlice<UInt8>)
        /// A line exceeded the limit; `prefix` is its start.
        case oversized(prefix: ArraySlice<UInt8>)
    }

    let fd: Int32
    let maximumLineLength: Int
    /// Polled between reads (every 200 ms at most): true stops reading.
    var shouldStop: @Sendable () -> Bool = { false }

    /// Calls `handle` for each line until end of file, until `handle`
    /// returns false, or until `shouldStop` says so.
    func run(_ handle: (Event) -> Bool) {
        var buffer: [UInt8] = []
        var scanFrom = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var discarding = false
        while true {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 200)
            if ready == 0 {
                if shouldStop() { return }
                continue
            }
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            if count == 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            var lineStart = 0
            while let newline = buffer[scanFrom...].firstIndex(of: 0x0A) {
                if discarding {
                    discarding = false
                } else if !handle(.line(buffer[lineStart..<newline])) {
                    return
                }
                lineStart = newline + 1
                scanFrom = lineStart
            }
            if lineStart > 0 {
                buffer.removeFirst(lineStart)
            }
            scanFrom = buffer.count
            if buffer.count > maximumLineLength {
                if !discarding {
                    if !handle(.oversized(prefix: buffer.prefix(200))) { return }
                    discarding = true
                }
                buffer.removeAll(keepingCapacity: true)
                scanFrom = 0
            }
        }
        if !buffer.isEmpty, !discarding {
            _ = handle(.line(buffer[...]))
        }
    }
}
