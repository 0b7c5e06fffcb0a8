#if canImport(Glibc)
import Glibc
#endif

/// How many malloc arenas a long-running `serve` keeps.
enum MallocArenas {
    /// glibc gives busy threads arenas of their own, up to eight per core;
    /// each keeps the memory it once held (fragmented, so `malloc_trim`
    /// gives little back). A server whose threads take turns on two cores
    /// needs two: measured on this machine, an idle `serve` after 100 hook
    /// runs held 3 MiB less anonymous memory, with no throughput change
    /// outside the machine's noise (BENCHMARKS.md). Other C libraries: nothing.
    static func limitForServer() {
        #if canImport(Glibc)
        // mallopt(3) is not in Swift's Glibc module (malloc.h); M_ARENA_MAX is -8 in glibc's ABI.
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: MallocOption.self)(-8, 2)
        #endif
    }
}
