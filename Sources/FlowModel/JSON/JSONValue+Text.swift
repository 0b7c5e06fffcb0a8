public import Foundation

/// Why a text is not JSON, in Foundation's words (it names the character offset).
public struct JSONTextError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What Foundation's parser reported, e.g. `Unexpected character 'x' around line 1, column 3.`
    public var reason: String

    /// `invalid JSON: REASON`.
    public var description: String { "invalid JSON: \(reason)" }
}

extension JSONValue {
    /// Parses one JSON document (RFC 8259; a bare scalar is allowed) with
    /// Foundation's `JSONSerialization`, which refuses nesting deeper than
    /// 512 levels, invalid UTF-8 and numbers no double can hold.
    ///
    /// - Throws: ``JSONTextError`` naming where the text stops being JSON.
    public init(jsonBytes bytes: some Collection<UInt8>) throws(JSONTextError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw JSONTextError(reason: reason ?? "\(error)")
        }
        self.init(foundationObject: object)
    }

    /// Parses one JSON document from text (see ``init(jsonBytes:)``).
    public init(jsonText text: String) throws(JSONTextError) {
        try self.init(jsonBytes: text.utf8)
    }

    /// Parses JSON text the engine stored itself; nil (never a crash) for
    /// nil or for text that is not JSON.
    public init?(storedText: String?) {
        guard let storedText, let value = try? JSONValue(jsonText: storedText) else { return nil }
        self = value
    }

    /// Compact JSON text with object keys sorted (by UTF-8 bytes), written by
    /// Foundation's `JSONEncoder`: equal values give equal text. Slashes are
    /// not escaped; non-finite doubles are written as `null`.
    public var jsonText: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }

    /// The UTF-8 bytes of ``jsonText``.
    public var jsonBytes: Data {
        // Every JSONValue is encodable (non-finite doubles become null), so this cannot fail.
        (try? Self.encoder.encode(self)) ?? Data("null".utf8)
    }

    /// One encoder for every value: `JSONEncoder` is thread-safe once configured.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The value of what `JSONSerialization` returns: `NSNull`, `String`,
    /// `NSNumber` (a boolean is the `c` type), `[Any]`, `[String: Any]`.
    init(foundationObject object: Any) {
        // Most likely first: each failed cast of an `Any` costs a runtime lookup.
        if let text = object as? String {
            self = .string(text)
        } else if let members = object as? [String: Any] {
            self = .object(members.mapValues(JSONValue.init(foundationObject:)))
        } else if let values = object as? [Any] {
            self = .array(values.map(JSONValue.init(foundationObject:)))
        } else if let number = object as? NSNumber {
            self = Self.number(number)
        } else {
            self = .null
        }
    }

    private static func number(_ number: NSNumber) -> JSONValue {
        switch number.objCType.pointee {
        case CChar(UInt8(ascii: "c")), CChar(UInt8(ascii: "B")):
            return .bool(number.boolValue)
        case CChar(UInt8(ascii: "d")), CChar(UInt8(ascii: "f")):
            return .double(number.doubleValue)
        case CChar(UInt8(ascii: "Q")), CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "I")):
            return Int(exactly: number.uint64Value).map(JSONValue.int) ?? .double(number.doubleValue)
        default:
            return .int(number.intValue)
        }
    }
}
