@testable import FlowRunner
import Testing

@Suite("Job names: deterministic, so a later attempt adopts the job of an earlier one")
struct JobNameTests {
    @Test("slug: lower case, one dash per run of other characters, none at the ends, 30 characters at most",
          arguments: [
              ("upgrade", "fr-7-upgrade-3-a1"),
              ("My Action!!  Name", "fr-7-my-action-name-3-a1"),
              ("--x--", "fr-7-x-3-a1"),
              ("", "fr-7-action-3-a1"),
              ("ünïcode_ok", "fr-7-n-code-ok-3-a1"),
              ("abcdefghijklmnopqrstuvwxyz012-456789", "fr-7-abcdefghijklmnopqrstuvwxyz012--3-a1"),
          ])
    func names(_ action: String, _ expected: String) {
        #expect(JobNames.name(run: 7, action: action, seq: 3, attempt: 1) == expected)
    }

    @Test("never longer than 63 characters (a Kubernetes label value)")
    func bounded() {
        let name = JobNames.name(run: .max, action: String(repeating: "a", count: 200), seq: .max, attempt: .max)
        #expect(name.count <= 63)
    }
}
