import Foundation
import Glibc

/// Writing to the terminal: results on stdout, problems on stderr.
enum Terminal {
    static func printError(_ message: String) {
        let message = TerminalText.escaped(message)
        let text = message.hasPrefix("error:") || message.hasPrefix("Error:") ? message : "error: " + message
        write(text + "\n", to: STDERR_FILENO)
    }

    /// Writes one line to stdout at once (unbuffered, in order with live progress).
    static func line(_ text: String) {
        write(TerminalText.escaped(text) + "\n")
    }

    /// Writes text with write(2) (stdout unless told); a reader that went
    /// away (EPIPE) is not an error: the run goes on, only its progress is not shown.
    static func write(_ text: String, to descriptor: Int32 = STDOUT_FILENO) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Prints `value` as pretty JSON with sorted keys.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }
}

/// `--output` choices.
enum OutputFormat: String, CaseIterable, Sendable {
    case text, json
}
