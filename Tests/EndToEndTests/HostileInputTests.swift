import Foundation
import Testing

/// Hostile numbers, terminal escapes and orphaned runs through the real binary.
@Suite("Hostile input: refused or shown safely, nothing left stuck")
struct HostileInputTests {
    @Test("--timeout that is not a finite number of seconds up to a year: exit 2, naming the option, no run created",
          arguments: ["inf", "1e309", "nan", "0", "99999999999999999999999999999999999999999"])
    func timeoutRefused(_ value: String) async throws {
        let workspace = Workspace()
        _ = try await workspace.deployTestbed("tn", behaviour: "ok")
        let result = try await workspace.run(["upgrade", "tn", "--to", "1.1.0", "--timeout", value])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("--timeout"))
        let runs = try await workspace.run(["runs", "list", "--output", "json"])
        #expect(!runs.stdout.contains("\"upgrade\""), "a refused request created a run: \(runs.stdout)")
    }

    @Test("action output with terminal control sequences is shown escaped in live output, runs logs and runs show")
    func escapes() async throws {
        let workspace = Workspace()
        _ = try await workspace.deployTestbed("esc", behaviour: "escapes")
        let live = try await workspace.run(["upgrade", "esc", "--to", "1.1.0"])
        #expect(live.status == 0, "\(live.stdout)\(live.stderr)")
        let logs = try await workspace.run(["runs", "logs", "2"])
        let show = try await workspace.run(["runs", "show", "2"])
        for (view, text) in [("live", live.stdout + live.stderr), ("runs logs", logs.stdout), ("runs show", show.stdout)] {
            let raw = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) }
            #expect(raw.isEmpty, "\(view) shows raw control characters: \(raw.map { String($0.value, radix: 16) })")
        }
        #expect(logs.stdout.contains("\\x1b[2J"), "the escaped text is still shown: \(logs.stdout)")
    }

    @Test("a queued run nobody claimed is worked by runs retry, as it is")
    func queuedRunRetried() async throws {
        let workspace = Workspace()
        _ = try await workspace.deployTestbed("q", behaviour: "ok")
        let queued = try await workspace.run(["upgrade", "q", "--to", "1.1.0", "--detach"])
        #expect(queued.status == 0, "\(queued.stderr)")
        let retried = try await workspace.run(["runs", "retry", "2"])
        #expect(retried.status == 0, "\(retried.stdout)\(retried.stderr)")
        let report = try await workspace.runShow(2)
        #expect(report["status"] as? String == "succeeded")
        #expect(report["attempt"] as? Int == 1)
    }

    @Test("an older queued run is worked first; a run that waited is frozen when it starts, not when it was queued")
    func firstInFirstOut() async throws {
        let workspace = Workspace()
        _ = try await workspace.deployTestbed("ff", behaviour: "ok")
        #expect(try await workspace.run(["upgrade", "ff", "--to", "1.1.0", "--detach"]).status == 0)
        let later = try await workspace.run(["upgrade", "ff", "--to", "1.2.0"])
        #expect(later.status == 0, "\(later.stdout)\(later.stderr)")
        #expect(later.stdout.contains("waiting for run 2"), "\(later.stdout)")
        let older = try await workspace.runShow(2), newer = try await workspace.runShow(3)
        #expect(older["status"] as? String == "succeeded")
        #expect(newer["status"] as? String == "succeeded")
        #expect((newer["inputs"] as? [String: Any])?["current_version"] as? String == "1.1.0")
    }

    @Test("dry-run refuses a bad fixture first, before the driver's Python files are checked")
    func badFixtureFirst() async throws {
        let workspace = Workspace()
        let fixture = workspace.directory + "/broken-fixture.yaml"
        try "commands: [unclosed\n".write(toFile: fixture, atomically: true, encoding: .utf8)
        let emptyDriver = workspace.directory + "/no-driver"
        try FileManager.default.createDirectory(atPath: emptyDriver, withIntermediateDirectories: true)
        let result = try await workspace.run(["dry-run", emptyDriver, "--hook", "upgrade", "--from", "1.0", "--to", "1.1", "--fixture", fixture])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("broken-fixture.yaml"), "the fixture is named, not the driver: \(result.stderr)")
    }
}
