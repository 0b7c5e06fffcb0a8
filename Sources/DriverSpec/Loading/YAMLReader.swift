import FlowModel
import Yams

/// Walks a composed YAML document, turning nodes into typed values and every
/// mismatch into a positioned ``Diagnostic``. It never throws: a wrong value is
/// reported and the caller goes on, so one pass finds every problem.
struct YAMLReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []
    /// Values built from the document so far: YAML aliases can make a few
    /// hundred bytes expand into billions ("billion laughs"), so the walk
    /// stops at ``maximumValues`` instead of expanding them.
    private(set) var valuesBuilt = 0
    /// Most values one document may expand into (aliases counted each time they are used).
    static let maximumValues = 100_000
    /// Deepest nesting of lists and mappings accepted.
    static let maximumDepth = 256

    init(file: String) {
        self.file = file
    }

    // MARK: Positions and reporting

    func location(of node: Node?) -> SourceLocation {
        guard let mark = node?.mark else { return SourceLocation(file: file) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    mutating func error(_ message: String, at node: Node?) {
        diagnostics.append(Diagnostic(.error, at: location(of: node), message))
    }

    mutating func warning(_ message: String, at node: Node?) {
        diagnostics.append(Diagnostic(.warning, at: location(of: node), message))
    }

    mutating func report(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
    }

    // MARK: Shapes

    /// What a node is, as a user would say it.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(node) { return "nothing (null)" }
            return "\"\(scalar.string)\""
        }
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && node.tagName == .null
    }

    /// The mapping at `node`, or an error naming `path` and what was found.
    mutating func mapping(_ node: Node, _ path: String) -> Node.Mapping? {
        if case .mapping(let mapping) = node { return mapping }
        error("`\(path)`: expected a mapping, found \(Self.describe(node))", at: node)
        return nil
    }

    /// The list at `node`; null counts as an empty list.
    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        if case .sequence(let sequence) = node { return Array(sequence) }
        if Self.isNull(node) { return [] }
        error("`\(path)`: expected a list, found \(Self.describe(node))", at: node)
        return nil
    }

    /// Any scalar's text; null and collections are errors.
    mutating func string(_ node: Node, _ path: String) -> String? {
        if case .scalar(let scalar) = node, !Self.isNull(node) { return scalar.string }
        error("`\(path)`: expected a string, found \(Self.describe(node))", at: node)
        return nil
    }

    /// A non-empty scalar text.
    mutating func nonEmptyString(_ node: Node, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if text.trimmingWhitespace.isEmpty {
            error("`\(path)`: expected a non-empty string", at: node)
            return nil
        }
        return text
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        if case .scalar = node, node.tagName == .bool, let value = node.bool { return value }
        error("`\(path)`: expected true or false, found \(Self.describe(node))", at: node)
        return nil
    }

    mutating func int(_ node: Node, _ path: String) -> Int? {
        if case .scalar = node, node.tagName == .int, let value = node.int { return value }
        error("`\(path)`: expected an integer, found \(Self.describe(node))", at: node)
        return nil
    }

    /// A list of strings; a single string counts as a list of one.
    mutating func stringList(_ node: Node, _ path: String) -> [String] {
        if case .scalar = node, !Self.isNull(node) {
            return string(node, path).map { [$0] } ?? []
        }
        guard let items = sequence(node, path) else { return [] }
        return items.enumerated().compactMap { index, item in string(item, "\(path)[\(index)]") }
    }

    /// A mapping of string keys to scalar texts (labels, links).
    mutating func stringMap(_ node: Node, _ path: String) -> [String: String] {
        guard let mapping = mapping(node, path) else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = string(key, path) else { continue }
            if let text = string(value, "\(path).\(name)") { result[name] = text }
        }
        return result
    }

    /// Plain data, for values passed through untouched. Past
    /// ``maximumValues`` values or ``maximumDepth`` levels the document is
    /// refused with one error at the node where the limit was reached.
    mutating func value(_ node: Node, _ path: String, depth: Int = 0) -> JSONValue {
        valuesBuilt += 1
        if valuesBuilt == Self.maximumValues + 1 {
            error("`\(path)`: the document expands into more than \(Self.maximumValues) values (YAML aliases that repeat each other?); refused before expanding it", at: node)
        }
        if valuesBuilt > Self.maximumValues { return .null }
        if depth > Self.maximumDepth {
            error("`\(path)`: nested more than \(Self.maximumDepth) levels deep", at: node)
            valuesBuilt = Self.maximumValues + 1
            return .null
        }
        switch node {
        case .scalar(let scalar):
            switch node.tagName {
            case .null where scalar.style == .plain: return .null
            case .bool: if let value = node.bool { return .bool(value) }
            case .int: if let value = node.int { return .int(value) }
            case .float: if let value = node.float { return .double(value) }
            default: break
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for (index, item) in sequence.enumerated() {
                if valuesBuilt > Self.maximumValues { break }
                values.append(value(item, "\(path)[\(index)]", depth: depth + 1))
            }
            return .array(values)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, item) in mapping {
                if valuesBuilt > Self.maximumValues { break }
                guard let name = string(key, path) else { continue }
                members[name] = value(item, "\(path).\(name)", depth: depth + 1)
            }
            return .object(members)
        case .alias:
            return .null
        }
    }

    // MARK: Keys

    /// The mapping's entries by key text. A key not in `known` is a
    /// warning (real drivers carry keys this version does not know yet),
    /// unless it is a near miss of a known key (`paramters`): then it is an
    /// error with "did you mean", since what it was meant to say is lost.
    mutating func entries(_ mapping: Node.Mapping, _ path: String, known: Set<String>) -> [String: Node] {
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = string(key, path) else { continue }
            result[name] = value
            if !known.contains(name) {
                let expected = known.sorted().joined(separator: ", ")
                if let meant = KeySuggestion.closest(to: name, among: known), !mapping.contains(where: { $0.key.string == meant }) {
                    error("`\(path)`: unknown key \"\(name)\" (did you mean \"\(meant)\"?)", at: key)
                } else {
                    warning("`\(path)`: unknown key \"\(name)\" (known keys: \(expected))", at: key)
                }
            }
        }
        return result
    }

    /// The key node for `name` in `mapping`, for positioning messages about the key itself.
    func keyNode(_ name: String, in mapping: Node.Mapping) -> Node? {
        mapping.first { $0.key.string == name }?.key
    }
}

extension Node {
    /// The resolved tag's name (`tag:yaml.org,2002:int`, ...).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.description) }
}
