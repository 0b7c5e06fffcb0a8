import DriverSpec
public import FlowModel

/// A parameter value as the user gave it: text from a command line, or a
/// typed value from JSON.
public enum ParameterInput: Sendable, Hashable {
    case text(String)
    case value(JSONValue)
}

/// Checks parameter inputs against a driver's declarations.
enum ParameterResolver {
    /// The full parameter set: given values converted and checked, defaults
    /// filled in; unknown names and missing required ones refused.
    static func resolve(_ inputs: [String: ParameterInput], spec: DriverSpecification) throws(EngineError) -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        let declared = spec.parameters.map(\.name)
        for (name, input) in inputs.sorted(by: { $0.key < $1.key }) {
            guard let parameter = spec.parameter(named: name) else {
                let list = declared.isEmpty ? "the driver declares no parameters" : "declared: " + declared.joined(separator: ", ")
                throw EngineError(.refused, "unknown parameter \"\(name)\" for driver \(spec.name) (\(list))", field: "parameters.\(name)")
            }
            do {
                switch input {
                case .text(let text): values[name] = try parameter.value(fromText: text)
                case .value(let value):
                    try parameter.check(value)
                    values[name] = value
                }
            } catch {
                throw EngineError(.refused, error.description, field: "parameters.\(name)")
            }
        }
        for parameter in spec.parameters where values[parameter.name] == nil {
            if let value = parameter.defaultValue {
                values[parameter.name] = value
            } else if parameter.isRequired {
                throw EngineError(.refused, "missing required parameter \"\(parameter.name)\" of driver \(spec.name) (kind \(parameter.kind.rawValue)); pass --param \(parameter.name)=VALUE", field: "parameters.\(parameter.name)")
            }
        }
        return values
    }
}
