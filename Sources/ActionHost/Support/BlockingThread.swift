import Foundation

/// A thread of its own for work that blocks (reading a pipe, waiting for a
/// process): Dispatch's pool is bounded, and many sessions blocking in it
/// would make the others wait for a free thread.
enum BlockingThread {
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.stackSize = 256 << 10
        thread.start()
    }
}
