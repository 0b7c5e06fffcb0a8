/// Text from action code (log lines, output, error messages, tracebacks) made
/// safe for a terminal: control characters are shown, never obeyed, so an
/// action cannot clear the screen, rewrite lines, fake a green "succeeded",
/// set the title or write the clipboard (OSC 52) on the operator's machine.
///
/// ESC is shown as `\x1b`, CR as `\r`, other C0 characters and DEL as
/// `\xNN`, C1 characters (U+0080–U+009F) and the bidirectional overrides
/// (U+202A–U+202E, U+2066–U+2069) as `\u{NNNN}`; a backslash stays as it is.
/// Tabs are kept, newlines too unless `keepingNewlines` is false (a table
/// cell shows them as `\n`). JSON output needs none of this: JSON escapes them.
enum TerminalText {
    static func escaped(_ text: String, keepingNewlines: Bool = true) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingNewlines: keepingNewlines) }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar, keepingNewlines: keepingNewlines) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar.value {
            case 0x0D: result += "\\r"
            case 0x0A: result += "\\n"
            case 0x00...0x1F, 0x7F: result += "\\x" + hex(scalar.value, digits: 2)
            default: result += "\\u{" + hex(scalar.value, digits: 4) + "}"
            }
        }
        return result
    }

    static func needsEscape(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x09: return false
        case 0x0A: return !keepingNewlines
        case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
