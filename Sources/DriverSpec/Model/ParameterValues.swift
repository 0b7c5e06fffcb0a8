public import FlowModel
/// A parameter value that does not fit its declaration: the parameter, what
/// was given and what was expected.
public struct ParameterValueError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parameter's name.
    public var parameter: String
    /// What is wrong, naming what was expected.
    public var reason: String

    /// `parameter NAME: REASON`.
    public var description: String { "parameter \(parameter): \(reason)" }
}

extension ParameterSpec {
    /// Converts a value written on a command line (`--param K=V`) to this
    /// parameter's kind and checks it: `integer` takes decimal digits,
    /// `boolean` true/false/yes/no/1/0, `enum` one of ``values``.
    public func value(fromText text: String) throws(ParameterValueError) -> JSONValue {
        let value: JSONValue
        switch kind {
        case .string:
            value = .string(text)
        case .integer:
            guard let number = Int(text.trimmingWhitespace) else {
                throw ParameterValueError(parameter: name, reason: "expected an integer, found \"\(text)\"")
            }
            value = .int(number)
        case .boolean:
            switch text.trimmingWhitespace.lowercased() {
            case "true", "yes", "on", "1": value = .bool(true)
            case "false", "no", "off", "0": value = .bool(false)
            default: throw ParameterValueError(parameter: name, reason: "expected true or false, found \"\(text)\"")
            }
        case .enum:
            guard let match = values.first(where: { $0.description == text }) else {
                throw ParameterValueError(parameter: name, reason: Self.notAllowed(text, values))
            }
            value = match
        }
        return value
    }

    /// Checks an already typed value (from JSON or YAML) against this parameter.
    public func check(_ value: JSONValue) throws(ParameterValueError) {
        if let problem = Self.problem(with: value, kind: kind, values: values) {
            throw ParameterValueError(parameter: name, reason: problem)
        }
    }

    /// What is wrong with `value` for a parameter of `kind` (and `values`), or nil.
    static func problem(with value: JSONValue, kind: ParameterKind, values: [JSONValue]) -> String? {
        switch (kind, value) {
        case (.string, .string), (.integer, .int), (.boolean, .bool):
            return nil
        case (.enum, _):
            return values.contains(value) ? nil : notAllowed(value.description, values)
        default:
            let expected = switch kind {
            case .string: "a string"
            case .integer: "an integer"
            case .boolean: "true or false"
            case .enum: "one of the values"
            }
            let shown = if case .string(let text) = value { "\"\(text)\"" } else { value.description }
            return "expected \(expected) (kind \(kind.rawValue)), found \(value.typeName) \(shown)"
        }
    }

    private static func notAllowed(_ text: String, _ values: [JSONValue]) -> String {
        "\"\(text)\" is not one of the allowed values: " + values.map(\.description).joined(separator: ", ")
    }
}
