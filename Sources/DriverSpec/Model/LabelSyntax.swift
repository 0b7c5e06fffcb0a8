/// Kubernetes label syntax (the API reference, "Labels and Selectors"):
/// a key is an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 characters (alphanumerics, `-`, `_`, `.`, alphanumeric at both ends);
/// a value is empty or such a name. A component's labels become a label
/// selector, so anything else would change what it selects.
public enum LabelSyntax {
    /// Why `key` is not a label key, or nil when it is.
    public static func problem(key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "a label key has at most one '/'" }
        if parts.count == 2 {
            let prefix = String(parts[0])
            guard !prefix.isEmpty, prefix.utf8.count <= 253,
                  prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isDNSLabel(String($0)) }) else {
                return "the prefix \"\(prefix)\" is not a DNS subdomain (lowercase letters, digits, '-' and '.')"
            }
        }
        guard let name = parts.last, !name.isEmpty, isName(String(name)) else {
            return "the name part must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        }
        return nil
    }

    /// Why `value` is not a label value, or nil when it is.
    public static func problem(value: String) -> String? {
        value.isEmpty || isName(value) ? nil : "a label value is empty or 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    }

    static func isName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return alphanumeric(first) && alphanumeric(last)
            && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Whether `text` is a DNS label (RFC 1123): 1 to 63 lowercase letters, digits or `-`, alphanumeric at both ends.
    public static func isDNSLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return alphanumeric(first) && alphanumeric(last) && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }
}
