public import ActionHost
import DriverSpec

extension SpecValue {
    /// The same data as a protocol value.
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = Int(exactly: value).map(SpecValue.int) ?? .double(Double(value))
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .array(let values): self = .array(values.map(SpecValue.init))
        case .object(let members): self = .object(members.mapValues(SpecValue.init))
        }
    }
}

extension JSONValue {
    /// The same data as a spec value.
    init(_ value: SpecValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(Int64(number))
        case .double(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .array(let values): self = .array(values.map(JSONValue.init))
        case .object(let members): self = .object(members.mapValues(JSONValue.init))
        }
    }

    /// Parses stored JSON text; nil (not a crash) for nil or text that is not JSON.
    public init?(storedText: String?) {
        guard let storedText, let value = try? JSONValue(parsing: storedText) else { return nil }
        self = value
    }
}

/// Digests of step arguments: SHA-256 of the canonical JSON (keys sorted).
enum ArgumentDigest {
    static func of(_ arguments: JSONValue) -> String {
        ContentDigest.sha256(arguments.jsonBytes)
    }
}
