import FlowModel
@testable import FlowRunner
import Testing

@Suite("Helm values: the diff dry-run shows for an upgrade")
struct HelmValuesDiffTests {
    @Test("changed, added and removed leaves by path, in path order; equal values give nothing")
    func diff() throws {
        let before = try JSONValue(jsonText: #"{"image": {"tag": "0.1.0", "pull": "Always"}, "args": ["a"], "env": [], "x": 1}"#)
        let after = try JSONValue(jsonText: #"{"image": {"tag": "0.2.0", "pull": "Always"}, "args": ["a", "b"], "env": [{"name": "A"}], "y": null}"#)
        #expect(HelmValues.diff(before: before, after: after) == [
            "+ args[1]: \"b\"",
            "- env: []",
            "+ env[0].name: \"A\"",
            "~ image.tag: \"0.1.0\" → \"0.2.0\"",
            "- x: 1",
            "+ y: null",
        ])
        #expect(HelmValues.diff(before: after, after: after).isEmpty)
        // Keys with dots (annotations) are quoted, so a nested a.b and a key "a.b" stay apart.
        let dotted = try JSONValue(jsonText: #"{"a": {"b": 4}, "a.b": 3, "metadata": {"annotations": {"nginx.ingress.kubernetes.io/x": "1"}}}"#)
        let dottedAfter = try JSONValue(jsonText: #"{"a": {"b": 3}, "a.b": 4, "metadata": {"annotations": {"nginx.ingress.kubernetes.io/x": "2"}}}"#)
        #expect(HelmValues.diff(before: dotted, after: dottedAfter) == [
            "~ a.b: 4 → 3",
            "~ [\"a.b\"]: 3 → 4",
            "~ metadata.annotations[\"nginx.ingress.kubernetes.io/x\"]: \"1\" → \"2\"",
        ].sorted { $0.dropFirst(2) < $1.dropFirst(2) })
        #expect(HelmValues.diff(before: .object([:]), after: .string("x")) == ["~ (values): {} → \"x\""])
    }
}
