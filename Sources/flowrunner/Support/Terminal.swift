import Foundation

/// Writing to the terminal: results on stdout, problems on stderr.
enum Terminal {
    static func printError(_ message: String) {
        let text = message.hasPrefix("error:") || message.hasPrefix("Error:") ? message : "error: " + message
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes one line to stdout at once (unbuffered, in order with live progress).
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
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
