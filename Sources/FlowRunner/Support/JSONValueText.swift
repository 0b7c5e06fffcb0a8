import ActionHost
import DriverSpec

/// Spec values to and from JSON text (through the protocol's fast codec).
enum JSONValueText {
    static func text(of value: SpecValue) -> String {
        JSONValue(value).jsonText
    }

    static func parse(_ text: String) throws -> SpecValue {
        SpecValue(try JSONValue(parsing: text))
    }
}
