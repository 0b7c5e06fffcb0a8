/// An error that ends a command with a message and a DESIGN.md exit code.
struct CommandFailure: Error {
    /// 1: the run or the validation failed.
    static let failedCode: Int32 = 1
    /// 2: bad usage or input (unknown names included).
    static let badInputCode: Int32 = 2

    var message: String
    var exitCode: Int32

    static func badInput(_ message: String) -> CommandFailure {
        CommandFailure(message: message, exitCode: badInputCode)
    }

    static func failed(_ message: String) -> CommandFailure {
        CommandFailure(message: message, exitCode: failedCode)
    }
}
