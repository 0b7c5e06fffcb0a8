import DriverSpec
import FlowModel

/// The arguments of one primitive call, checked against what it takes.
struct PrimitiveArguments {
    let primitive: String
    let values: [String: JSONValue]

    /// Checks that every given key is known; `known` lists what the primitive takes.
    init(primitive: String, arguments: JSONValue, known: [String]) throws(PrimitiveError) {
        self.primitive = primitive
        switch arguments {
        case .object(let members): values = members.filter { if case .null = $0.value { return false } else { return true } }
        case .null: values = [:]
        default: throw PrimitiveError(.badArgument, "\(primitive): arguments must be given by name (a mapping), found \(arguments.typeName)")
        }
        for key in values.keys.sorted() where !known.contains(key) {
            let expected = known.isEmpty ? "it takes no arguments" : "expected: " + known.joined(separator: ", ")
            throw PrimitiveError(.badArgument, "\(primitive)() got an unexpected argument '\(key)' (\(expected))")
        }
    }

    func missing(_ key: String, _ what: String) -> PrimitiveError {
        PrimitiveError(.badArgument, "\(primitive)() is missing its required argument '\(key)' (\(what))")
    }

    func wrong(_ key: String, _ what: String, _ value: JSONValue) -> PrimitiveError {
        PrimitiveError(.badArgument, "\(primitive)(): argument '\(key)' must be \(what), found \(value.typeName) \(Self.show(value))")
    }

    static func show(_ value: JSONValue) -> String {
        if case .string(let text) = value { return "\"\(text)\"" }
        return value.description
    }

    func string(_ key: String, required what: String) throws(PrimitiveError) -> String {
        guard let value = values[key] else { throw missing(key, what) }
        guard case .string(let text) = value, !text.isEmpty else { throw wrong(key, what, value) }
        return text
    }

    func optionalString(_ key: String, _ what: String) throws(PrimitiveError) -> String? {
        guard let value = values[key] else { return nil }
        guard case .string(let text) = value, !text.isEmpty else { throw wrong(key, what, value) }
        return text
    }

    /// A list of strings; one string counts as a list of one.
    func strings(_ key: String, required what: String) throws(PrimitiveError) -> [String] {
        guard let value = values[key] else { throw missing(key, what) }
        switch value {
        case .string(let text) where !text.isEmpty: return [text]
        case .array(let items) where !items.isEmpty:
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item, !text.isEmpty else { throw wrong(key, what, value) }
                result.append(text)
            }
            return result
        default: throw wrong(key, what, value)
        }
    }

    /// Seconds, as a duration; nil when not given.
    func timeout(_ key: String = "timeout") throws(PrimitiveError) -> Duration? {
        guard let value = values[key] else { return nil }
        guard let seconds = value.doubleValue, let duration = try? Seconds.duration(seconds) else {
            throw wrong(key, "a positive number of seconds, at most 31536000 (one year)", value)
        }
        return duration
    }

    func stringMap(_ key: String, _ what: String) throws(PrimitiveError) -> [String: String] {
        guard let value = values[key] else { return [:] }
        guard case .object(let members) = value else { throw wrong(key, what, value) }
        var result: [String: String] = [:]
        for (name, item) in members {
            switch item {
            case .string(let text): result[name] = text
            case .int, .double, .bool: result[name] = item.description
            default: throw wrong(key, what, value)
            }
        }
        return result
    }
}
