#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a descriptor to its end and cuts it into lines (``LineSplitter``),
/// refusing lines longer than a limit. Blocking; run it on its own thread.
struct LineReader {
    typealias Event = LineSplitter.Event

    let fd: Int32
    let maximumLineLength: Int
    /// Polled between reads (every 200 ms at most): true stops reading.
    var shouldStop: @Sendable () -> Bool = { false }

    /// Calls `handle` for each line until end of file, until `handle`
    /// returns false, or until `shouldStop` says so.
    func run(_ handle: (Event) -> Bool) {
        var splitter = LineSplitter(maximumLineLength: maximumLineLength)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
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
            if !splitter.feed(chunk[0..<count], handle) { return }
        }
        splitter.finish(handle)
    }
}
