import DriverSpec
import FlowModel
import Testing

@Suite("YAML alias bombs are refused before they expand")
struct AliasBudgetTests {
    /// Ten levels of ten aliases each: 10^10 values if expanded.
    static let bomb: String = {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...10 {
            let previous = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("a\(level): &a\(level) [\(previous)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test("a fixture or other data file: an error naming the file and line, not gigabytes")
    func dataFile() {
        do {
            _ = try YAMLData.load(text: Self.bomb, file: "fixture.yml")
            Issue.record("the bomb was expanded")
        } catch {
            #expect(error.location.file == "fixture.yml")
            #expect(error.location.line > 0)
            #expect(error.message.contains("expands into more than"))
        }
    }

    @Test("a driver spec whose free-form backup option holds the bomb is invalid")
    func spec() {
        let indented = Self.bomb.split(separator: "\n").map { "            " + $0 }.joined(separator: "\n")
        let yaml = """
            apiVersion: styrmin.io/v1
            kind: ApplicationDriver
            metadata: {name: bomb}
            spec:
              version: "1"
              supported_versions: ">=1.0"
              helm:
                main: {location: bomb, version: 1.0.0}
              components:
                db:
                  identifier: {label: {app: bomb}}
                  backup:
                    kind: postgres
                    extra:
            \(indented)
            """
        let (_, diagnostics) = DriverLoader.parse(yaml: yaml, file: "driver.styrmin.yml")
        #expect(diagnostics.errors.contains { $0.message.contains("expands into more than") }, "\(diagnostics)")
    }

    @Test("ordinary aliases are fine")
    func ordinary() throws {
        let value = try YAMLData.load(text: "base: &b {replicas: 2}\nweb: *b\nworker: *b\n", file: "f.yml")
        #expect(value["worker"]?["replicas"] == 2)
    }
}
