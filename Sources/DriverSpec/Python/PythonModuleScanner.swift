/// Finds the names a Python module binds at its top level, without running
/// Python: `def NAME`, `async def NAME`, `class NAME`, `NAME = ...`,
/// `NAME: T = ...` and `from M import X [as NAME]` / `import M [as NAME]`
/// statements that start at column 0 outside strings and brackets.
///
/// This is a scanner, not a parser: it understands strings (single, double,
/// triple-quoted, with prefixes), comments, brackets and backslash line
/// continuations, which is what deciding "does this file define `upgrade`"
/// needs. Names bound only inside `if`/`try` blocks are not seen.
struct PythonModuleScanner {
    /// The names bound at top level, with the 1-based line of their first binding.
    static func topLevelNames(in source: String) -> [String: Int] {
        var names: [String: Int] = [:]
        for statement in logicalLines(of: source) {
            for name in boundNames(in: statement.text) where names[name] == nil {
                names[name] = statement.line
            }
        }
        return names
    }

    /// Top-level logical lines (column 0, outside strings and brackets), with
    /// strings blanked and comments removed.
    private static func logicalLines(of source: String) -> [(line: Int, text: String)] {
        let chars = Array(source.unicodeScalars)
        var result: [(line: Int, text: String)] = []
        var current = String.UnicodeScalarView()
        var currentLine = 1, line = 1
        var depth = 0
        var index = 0
        var atLineStart = true
        var indented = false

        func flush() {
            if !indented {
                let text = String(current)
                if !text.allSatisfy({ $0 == " " || $0 == "\t" }) { result.append((currentLine, text)) }
            }
            current = String.UnicodeScalarView()
        }

        while index < chars.count {
            let char = chars[index]
            if atLineStart {
                atLineStart = false
                currentLine = line
                indented = char == " " || char == "\t"
            }
            switch char {
            case "#":
                while index < chars.count, chars[index] != "\n" { index += 1 }
                continue
            case "\"", "'":
                let triple = index + 2 < chars.count && chars[index + 1] == char && chars[index + 2] == char
                let quoteLength = triple ? 3 : 1
                index += quoteLength
                while index < chars.count {
                    let c = chars[index]
                    if c == "\\" { index += 2; continue }
                    if c == "\n" {
                        line += 1
                        if !triple { break } // unterminated single-line string: stop at the line end
                    }
                    if c == char, !triple || (index + 2 < chars.count && chars[index + 1] == char && chars[index + 2] == char) {
                        index += quoteLength
                        break
                    }
                    index += 1
                }
                current.append(contentsOf: "\"\"".unicodeScalars)
                continue
            case "(", "[", "{":
                depth += 1
            case ")", "]", "}":
                depth = max(0, depth - 1)
            case "\\" where index + 1 < chars.count && chars[index + 1] == "\n":
                index += 2
                line += 1
                current.append(" ")
                continue
            case "\n":
                line += 1
                index += 1
                if depth == 0 {
                    flush()
                    atLineStart = true
                } else {
                    current.append(" ")
                }
                continue
            default:
                break
            }
            current.append(char)
            index += 1
        }
        flush()
        return result
    }

    private static func isIdentifierStart(_ c: Character) -> Bool { c == "_" || c.isLetter }
    private static func isIdentifierChar(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }

    private static func identifier(at text: Substring) -> Substring? {
        guard let first = text.first, isIdentifierStart(first) else { return nil }
        return text.prefix { isIdentifierChar($0) }
    }

    /// Names one top-level statement binds.
    private static func boundNames(in statement: String) -> [String] {
        var text = Substring(statement)
        // Strip `@decorator` lines and `async` prefixes.
        if text.hasPrefix("@") { return [] }
        if text.hasPrefix("async ") { text = text.dropFirst(6).drop { $0 == " " } }
        for keyword in ["def ", "class "] where text.hasPrefix(keyword) {
            let rest = text.dropFirst(keyword.count).drop { $0 == " " }
            return identifier(at: rest).map { [String($0)] } ?? []
        }
        if text.hasPrefix("from ") || text.hasPrefix("import ") {
            return importedNames(text)
        }
        // Assignments: NAME [: T] = ..., also `a = b = value` and `a, b = ...`.
        var names: [String] = []
        var rest = text
        while true {
            let target = rest.prefix { $0 != "=" }
            guard target.count < rest.count else { break }
            let afterEquals = rest.dropFirst(target.count + 1)
            if afterEquals.first == "=" { break } // `==` comparison
            if let last = target.last, "!<>+-*/%&|^@:".contains(last), !target.contains(":") { break } // augmented or comparison
            let declared = target.split(separator: ":", maxSplits: 1).first ?? target
            for part in declared.split(separator: ",") {
                let trimmed = part.trimmingWhitespace.trimming("()[] ")
                if let name = identifier(at: Substring(trimmed)), name.count == trimmed.count { names.append(String(name)) }
            }
            rest = afterEquals
        }
        return names
    }

    private static func importedNames(_ text: Substring) -> [String] {
        if text.hasPrefix("import ") {
            return text.dropFirst(7).split(separator: ",").compactMap { clause in
                let words = clause.split(separator: " ")
                if words.count == 3, words[1] == "as" { return String(words[2]) }
                return words.first.map { String($0.split(separator: ".").first ?? $0) }
            }
        }
        let words = text.split(separator: " ", maxSplits: 3)
        guard words.count == 4, words[2] == "import" else { return [] }
        let list = words[3].trimming("() ")
        return list.split(separator: ",").compactMap { clause in
            let words = clause.split(separator: " ")
            if words.count == 3, words[1] == "as" { return String(words[2]) }
            return words.first.map(String.init)
        }.filter { $0 != "*" }
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters from `set`.
    func trimming(_ set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
