import Foundation

/// Mutations of a valid file that outside input could bring: hostile numbers,
/// alias bombs, deep nesting, bad UTF-8, flipped bytes, truncation. Seeded,
/// so a failure names the input that caused it.
public struct HostileMutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    public static let hostileScalars = [
        "1e309", "-1e309", ".inf", "-.inf", ".nan", "1234567890123456789012345678901234567890", "-99999999999999999999",
        "0x7fffffffffffffffffff", "1_000_000", "\"\\ud800\"", "!!binary AAAA", "~", "[]", "{}", "&x", "*undefined",
    ]

    public static var aliasBomb: String {
        var lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"]
        for level in 1...9 {
            lines.append("x\(level): &x\(level) [" + Array(repeating: "*x\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n")
    }

    /// One to three mutations of `bytes`.
    public mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes
        for _ in 0...below(3) {
            let at = below(result.count + 1)
            switch below(9) {
            case 0: // a scalar after some ": " becomes hostile
                let text = String(decoding: result, as: UTF8.self)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                guard !lines.isEmpty else { continue }
                var changed = lines
                let index = below(lines.count)
                if let colon = lines[index].range(of: ": ") {
                    changed[index] = String(lines[index][..<colon.upperBound]) + Self.hostileScalars[below(Self.hostileScalars.count)]
                }
                result = Array(changed.joined(separator: "\n").utf8)
            case 1: result += Array(("\n" + Self.aliasBomb + "\n").utf8)
            case 2:
                let depth = 50 + below(5000)
                result += Array(("\ndeep: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n").utf8)
            case 3: result.insert(contentsOf: [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0x80, 0x80]][below(4)], at: at)
            case 4: if !result.isEmpty { result[below(result.count)] ^= UInt8(truncatingIfNeeded: 1 << below(8)) }
            case 5: result = Array(result.prefix(at))
            case 6: result.insert(contentsOf: [0x00, 0x1B, 0x09][below(3)...].prefix(1), at: at)
            case 7: result.insert(contentsOf: Array(("\n" + String(repeating: "k", count: 20_000 + below(80_000)) + ": v\n").utf8), at: at)
            default: result.insert(contentsOf: Array("\n  - {name: x, hook: upgrade, mode: core, location: \"a.py::f\"}\n".utf8), at: at)
            }
        }
        return result
    }
}
