/// Cuts bytes into lines as they arrive (`\n`-terminated, the newline not
/// included), refusing lines longer than a limit: such a line is reported
/// once by its first 200 bytes and the rest of it, up to its newline, is dropped.
struct LineSplitter {
    /// What a chunk of bytes produced.
    enum Event {
        case line(ArraySlice<UInt8>)
        /// A line exceeded the limit; `prefix` is its start.
        case oversized(prefix: ArraySlice<UInt8>)
    }

    let maximumLineLength: Int
    private var buffer: [UInt8] = []
    private var scanFrom = 0
    private var discarding = false

    init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
    }

    /// Takes the next bytes and calls `handle` for each line they complete.
    /// Returns false as soon as `handle` does (the rest is not looked at).
    mutating func feed(_ bytes: some Collection<UInt8>, _ handle: (Event) -> Bool) -> Bool {
        buffer.append(contentsOf: bytes)
        var lineStart = 0
        while let newline = buffer[scanFrom...].firstIndex(of: 0x0A) {
            if discarding {
                discarding = false
            } else if !handle(.line(buffer[lineStart..<newline])) {
                return false
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
                if !handle(.oversized(prefix: buffer.prefix(200))) { return false }
                discarding = true
            }
            buffer.removeAll(keepingCapacity: true)
            scanFrom = 0
        }
        return true
    }

    /// At the end of the input: the last line if it had no newline.
    mutating func finish(_ handle: (Event) -> Bool) {
        if !buffer.isEmpty, !discarding {
            _ = handle(.line(buffer[...]))
        }
        buffer.removeAll()
        scanFrom = 0
    }
}
