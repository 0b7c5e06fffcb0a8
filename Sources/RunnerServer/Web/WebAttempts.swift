import FlowModel
import FlowRunner
import StateStore

/// Two attempts of a run side by side (`/runs/{id}/attempts?a=1&b=2`):
/// how each ended (status and error), then each action's steps aligned by sequence number, the calls that differ
/// marked with the first argument that differs, and a diverged step's
/// recorded call against the one the action made.
enum WebAttempts {
    static let template = """
        <h1>Run {{id}}: attempt {{a}} beside attempt {{b}}</h1>
        <form method="get" action="/runs/{{id}}/attempts" class="filters"><label for="a">Attempt</label>
        <input id="a" name="a" type="number" min="1" max="{{attempts}}" value="{{a}}"> <label for="b">beside attempt</label>
        <input id="b" name="b" type="number" min="1" max="{{attempts}}" value="{{b}}"> <button>Compare</button></form>
        <section aria-labelledby="ends-h"><h2 id="ends-h">How they ended</h2><ul class="attempt-ends">
        {{#ends}}{{> attemptEnd}}{{/ends}}</ul></section>
        {{#actions}}<h2>{{name}}</h2><div class="scroll"><table><thead><tr><th scope="col">Step</th>
        <th scope="col">Attempt {{a}}</th><th scope="col">Attempt {{b}}</th><th scope="col">Difference</th></tr></thead><tbody>
        {{#rows}}<tr{{#differs}} class="marked"{{/differs}}><td>{{seq}}</td><td>{{left}}</td><td>{{right}}</td><td>{{difference}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="4">Neither attempt recorded a step.</td></tr>{{/rows}}</tbody></table></div>{{/actions}}
        <p><a href="/runs/{{id}}">Back to run {{id}}</a></p>
        """

    /// The page's view of attempts `a` and `b` of `report`'s run.
    static func view(_ report: RunReport, a: Int, b: Int) -> [String: Any] {
        [
            "id": report.run.id, "a": a, "b": b, "attempts": report.run.attempt,
            "ends": (a == b ? [a] : [a, b]).map { WebAttemptEnds.view(of: $0, report, traceback: true) },
            "actions": report.actions.map { action, steps -> [String: Any] in
                let left = Dictionary(steps.filter { $0.attempt == a }.map { ($0.seq, $0) }) { first, _ in first }
                let right = Dictionary(steps.filter { $0.attempt == b }.map { ($0.seq, $0) }) { first, _ in first }
                let rows = Set(left.keys).union(right.keys).sorted().map { seq -> [String: Any] in
                    let difference = Self.difference(left[seq], right[seq])
                    return ["seq": seq, "left": describe(left[seq]), "right": describe(right[seq]),
                            "difference": difference ?? "", "differs": difference != nil]
                }
                return ["name": action.name, "rows": rows]
            },
        ]
    }

    static func describe(_ step: StepRecord?) -> String {
        guard let step else { return "-" }
        return "\(step.name) \(step.status.rawValue) \(step.argsJSON.prefix(160))"
    }

    /// What differs between the same step of two attempts: the call's name,
    /// the first argument that differs, or the divergence replay recorded; nil when the calls are the same.
    static func difference(_ a: StepRecord?, _ b: StepRecord?) -> String? {
        guard let a, let b else { return a == nil && b == nil ? nil : "only in attempt \((a ?? b)?.attempt ?? 0)" }
        if let divergence = JSONValue(storedText: b.divergenceJSON ?? a.divergenceJSON ?? "") {
            let expected = divergence["expected"]?["args"] ?? .null, got = divergence["got"]?["args"] ?? .null
            return "diverged: " + (firstDifference(expected, got, path: "args") ?? (divergence["message"]?.stringValue ?? "the call differs"))
        }
        if a.kind != b.kind || a.name != b.name { return "\(a.kind.rawValue) \(a.name) → \(b.kind.rawValue) \(b.name)" }
        guard a.argsDigest != b.argsDigest else { return nil }
        return firstDifference(JSONValue(storedText: a.argsJSON) ?? .null, JSONValue(storedText: b.argsJSON) ?? .null, path: "args")
    }

    /// The path and both values of the first place where `a` and `b` differ
    /// (`args.components[0]: "server" → "worker"`), members in name order; nil when equal.
    static func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String) -> String? {
        switch (a, b) {
        case (.object(let left), .object(let right)):
            for key in Set(left.keys).union(right.keys).sorted() {
                if let found = firstDifference(left[key] ?? .null, right[key] ?? .null, path: path + "." + key) { return found }
            }
            return nil
        case (.array(let left), .array(let right)):
            for index in 0..<max(left.count, right.count) {
                let l = index < left.count ? left[index] : .null, r = index < right.count ? right[index] : .null
                if let found = firstDifference(l, r, path: path + "[\(index)]") { return found }
            }
            return nil
        default:
            return a == b ? nil : "\(path): \(a.jsonText) → \(b.jsonText)"
        }
    }
}
