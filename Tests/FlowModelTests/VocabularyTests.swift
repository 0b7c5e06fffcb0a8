import FlowModel
import Testing

@Suite("Closed sets: hooks, modes and step kinds use DESIGN.md's words")
struct VocabularyTests {
    @Test("raw values are the words of specs, the CLI and JSON")
    func rawValues() {
        #expect(Hook.allCases.map(\.rawValue) == ["setup", "upgrade", "backup", "restore", "delete"])
        #expect(ActionMode.allCases.map(\.rawValue) == ["pre", "core", "post"])
        #expect(StepKind.allCases.map(\.rawValue) == ["primitive", "task", "builtin"])
        #expect(Hook(rawValue: "Setup") == nil)
    }

    @Test("modes order pre, core, post")
    func modeOrder() {
        #expect([ActionMode.post, .pre, .core].sorted() == [.pre, .core, .post])
    }
}
