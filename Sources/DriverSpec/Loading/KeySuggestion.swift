/// "Did you mean" for names: the known name a misspelling most likely meant.
enum KeySuggestion {
    /// The name in `known` closest to `name` by edit distance (insertions,
    /// deletions, substitutions and swaps of neighbours, case ignored), when
    /// it is close enough to be a slip: at most 1 edit for names of up to 4
    /// characters, 2 up to 8, 3 beyond. Nil when nothing is that close, or
    /// when two names are equally close.
    static func closest(to name: String, among known: some Collection<String>) -> String? {
        let limit = name.count <= 4 ? 1 : (name.count <= 8 ? 2 : 3)
        let scored = known.map { ($0, distance(name.lowercased(), $0.lowercased())) }.filter { $0.1 <= limit }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return scored.filter { $0.1 == best.1 }.count == 1 ? best.0 : nil
    }

    /// Optimal string alignment distance (Damerau–Levenshtein without
    /// repeated edits of one substring).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var table = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { table[i][0] = i }
        for j in 0...y.count { table[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[x.count][y.count]
    }
}
