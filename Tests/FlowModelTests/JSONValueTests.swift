import FlowModel
import Foundation
import Testing

@Suite("JSONValue: one value type, parsed and written by Foundation")
struct JSONValueTests {
    @Test("scalars keep their kind: booleans are not numbers, 1.0 stays a double, huge integers become doubles")
    func scalarKinds() throws {
        let value = try JSONValue(jsonText: #"[true, false, 0, 1, -7, 1.0, 1.5, 12345678901234567890123, null, "s"]"#)
        #expect(value == [true, false, 0, 1, -7, .double(1.0), 1.5, .double(12345678901234567890123.0), nil, "s"])
        #expect(try JSONValue(jsonText: "9223372036854775807") == .int(Int.max))
        #expect(try JSONValue(jsonText: "18446744073709551615") == .double(18446744073709551615.0))
    }

    @Test("text is compact with keys sorted: equal values give equal text")
    func canonicalText() throws {
        let a: JSONValue = ["b": 1, "a": ["z": true, "y": nil], "B": "x/y"]
        let b = try JSONValue(jsonText: #"{ "B" : "x/y", "a": {"y": null, "z": true}, "b": 1 }"#)
        #expect(a == b)
        #expect(a.jsonText == #"{"B":"x/y","a":{"y":null,"z":true},"b":1}"#)
        #expect(a.jsonText == b.jsonText)
    }

    @Test("control characters, quotes and non-ASCII survive a round trip")
    func stringRoundTrip() throws {
        let text: JSONValue = .string("line\nnext \"quoted\" \u{1B}[2K tab\t é ✓ \u{0}")
        #expect(try JSONValue(jsonText: text.jsonText) == text)
        #expect(!text.jsonText.contains("\u{1B}"))
    }

    @Test("non-finite doubles, which JSON cannot hold, are written as null")
    func nonFinite() {
        #expect(JSONValue.double(.infinity).jsonText == "null")
        #expect(JSONValue.array([.double(.nan), 1]).jsonText == "[null,1]")
    }

    @Test("hostile text is refused with a reason, never a crash",
          arguments: [
              String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
              "1e400", "{\"a\":", "[1 2]", "tru", "\"\\ud800\"", "",
          ])
    func refused(_ text: String) {
        #expect(throws: JSONTextError.self) { try JSONValue(jsonText: text) }
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() {
        #expect(throws: JSONTextError.self) { try JSONValue(jsonBytes: [0x22, 0xFF, 0x22]) }
    }

    @Test("stored text: nil for nil and for text that is not JSON")
    func storedText() {
        #expect(JSONValue(storedText: nil) == nil)
        #expect(JSONValue(storedText: "{oops") == nil)
        #expect(JSONValue(storedText: #"{"a":[1]}"#) == ["a": [1]])
    }

    @Test("accessors: an integral double counts as an integer, a string does not")
    func accessors() {
        let value: JSONValue = ["n": 2.0, "s": "2", "b": true, "l": [1], "o": ["k": "v"]]
        #expect(value["n"]?.intValue == 2)
        #expect(value["s"]?.intValue == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["l"]?.arrayValue == [1])
        #expect(value["o"]?["k"]?.stringValue == "v")
        #expect(value["missing"] == nil)
        #expect(JSONValue.double(1e300).intValue == nil)
    }

    @Test("Codable inside Foundation-coded types, and YAML-style descriptions for messages")
    func codableAndDescription() throws {
        struct Holder: Codable, Equatable { var value: JSONValue }
        let holder = Holder(value: ["list": [1, 2.5, "x", nil, false], "map": ["a": 1]])
        let decoded = try JSONDecoder().decode(Holder.self, from: JSONEncoder().encode(holder))
        #expect(decoded == holder)
        #expect(holder.value.description == "{list: [1, 2.5, x, null, false], map: {a: 1}}")
        #expect(holder.value["list"]?.typeName == "list")
        #expect(JSONValue.int(1).typeName == "integer")
    }
}
