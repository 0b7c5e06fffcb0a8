import DriverSpec
import FlowModel
import Foundation
import Testing

/// One expected finding of a broken fixture: `error 9:19 text the message contains`.
struct ExpectedFinding: CustomStringConvertible {
    var severity: String
    var line: Int
    var column: Int
    var fragment: String

    init?(_ text: Substring) {
        let parts = text.split(separator: " ", maxSplits: 2)
        guard parts.count == 3 else { return nil }
        let position = parts[1].split(separator: ":")
        guard position.count == 2, let line = Int(position[0]), let column = Int(position[1]) else { return nil }
        severity = String(parts[0])
        self.line = line
        self.column = column
        fragment = String(parts[2])
    }

    func matches(_ diagnostic: Diagnostic) -> Bool {
        diagnostic.severity.rawValue == severity && diagnostic.location.line == line
            && diagnostic.location.column == column && diagnostic.message.contains(fragment)
    }

    var description: String { "\(severity) \(line):\(column) \(fragment)" }
}

@Suite("Driver loading and validation")
struct DriverLoaderTests {
    @Test("each broken fixture yields exactly its expected FILE:LINE:COL findings",
          arguments: FixturePaths.children(of: FixturePaths.invalid))
    func brokenFixture(_ name: String) throws {
        let directory = FixturePaths.invalid + "/" + name
        let expectedText = try String(contentsOfFile: directory + "/expected.txt", encoding: .utf8)
        let expected = expectedText.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap(ExpectedFinding.init)
        #expect(!expected.isEmpty, "expected.txt of \(name) lists no findings")

        let driver = try DriverLoader.load(directory: directory)
        #expect(!driver.isValid)
        for finding in expected {
            #expect(driver.diagnostics.contains(where: finding.matches), "missing \(finding); got:\n\(driver.diagnostics.map(\.description).joined(separator: "\n"))")
        }
        for diagnostic in driver.diagnostics.errors {
            #expect(expected.contains { $0.matches(diagnostic) }, "unexpected \(diagnostic)")
            #expect(diagnostic.location.file == directory + "/driver.styrmin.yml" || diagnostic.location.file == directory)
        }
    }

    @Test("the seed's my-app example validates clean and is modelled fully")
    func myApp() throws {
        let driver = try DriverLoader.load(directory: FixturePaths.examples + "/my-app")
        #expect(driver.diagnostics.isEmpty, "\(driver.diagnostics)")
        let spec = try #require(driver.specification)
        #expect(spec.name == "my-app")
        #expect(spec.version == "1")
        #expect(spec.apiVersion == "styrmin.io/v1")
        #expect(spec.supportedVersions?.description == ">=0.1,<1.0")
        #expect(spec.info.authors == ["you"])
        #expect(spec.info.license == "Apache-2.0")
        #expect(spec.helmCharts["main"] == HelmChart(location: "my-app", version: "0.1.0"))
        #expect(spec.components.map(\.name) == ["server", "database"])
        #expect(spec.component(named: "server")?.labels == ["app.kubernetes.io/name": "my-app"])
        #expect(spec.component(named: "server")?.backup == nil)
        let backup = try #require(spec.component(named: "database")?.backup)
        #expect(backup.enabled && backup.kind == "postgres")
        #expect(backup.options == ["database_name": .string("my_app")])
        #expect(spec.services.count == 1)
        #expect(spec.services.first?.port == 8000 && spec.services.first?.kind == .http && spec.services.first?.scope == .internal)
        #expect(spec.actions(for: .upgrade, mode: .core).map(\.name) == ["upgrade"])
        #expect(spec.actions.first?.location == ActionLocation("actions.py::upgrade"))
        let parameter = try #require(spec.parameter(named: "storage_size"))
        #expect(parameter.kind == .integer && parameter.defaultValue == .int(10) && !parameter.isRequired)
        #expect(spec.containerOverrides.first?.component == "server")
        #expect(spec.containerOverrides.first?.args == true)
    }

    @Test("unknown keys are warnings with positions, not errors")
    func unknownKeys() throws {
        let directory = FixturePaths.valid + "/unknown-keys"
        let driver = try DriverLoader.load(directory: directory)
        #expect(driver.isValid, "\(driver.diagnostics)")
        let warnings = driver.diagnostics.warnings.map { "\($0.location.line):\($0.location.column) \($0.message)" }
        #expect(warnings.count == 3, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("9:3 ") && $0.contains("\"future_feature\"") })
        #expect(warnings.contains { $0.hasPrefix("14:7 ") && $0.contains("\"replicas_hint\"") })
        #expect(warnings.contains { $0.hasPrefix("22:7 ") && $0.contains("\"timeout\"") })
        let spec = try #require(driver.specification)
        #expect(spec.version == "2")
        #expect(spec.defaultVersion?.description == "1.4.2")
        #expect(spec.component(named: "worker")?.envVars == [EnvVar(name: "QUEUE", value: .string("default"))])
        #expect(spec.actions.first?.location.file == "lib/hooks.py")
    }

    @Test("a missing directory is an input error naming the path")
    func missingDirectory() throws {
        let error = #expect(throws: DriverDirectoryError.self) {
            try DriverLoader.load(directory: "/nonexistent/driver")
        }
        #expect(error?.code == .notFound)
        #expect(error?.description.contains("/nonexistent/driver") == true)
    }

    @Test("a directory without a spec is invalid, naming the expected file")
    func noSpec() throws {
        let directory = TemporaryDirectory()
        try directory.write("actions.py", "def x(): pass\n")
        let driver = try DriverLoader.load(directory: directory.path)
        #expect(!driver.isValid)
        #expect(driver.diagnostics.first?.message.contains("driver.styrmin.yml") == true)
    }

    @Test("an empty spec file is an error at line 1")
    func emptySpec() throws {
        let (spec, diagnostics) = DriverLoader.parse(yaml: "# nothing\n", file: "d/driver.styrmin.yml")
        #expect(spec == nil)
        #expect(diagnostics.first?.location.line == 1)
        #expect(diagnostics.first?.message.contains("empty") == true)
    }

    @Test("a 2,000-line spec with many components parses and validates")
    func largeSpec() throws {
        var yaml = """
        apiVersion: "styrmin.io/v1"
        kind: ApplicationDriver
        metadata:
          name: large
        spec:
          version: "1"
          supported_versions: ">=1.0,<3.0"
          components:

        """
        for index in 0..<250 {
            yaml += "    c\(index):\n      identifier:\n        label:\n          app: c\(index)\n"
        }
        yaml += "  services:\n"
        for index in 0..<250 {
            yaml += "    - {name: s\(index), port: \(1000 + index), component: c\(index)}\n"
        }
        let (spec, diagnostics) = DriverLoader.parse(yaml: yaml, file: "large.yml")
        #expect(diagnostics.isEmpty, "\(diagnostics.prefix(3))")
        #expect(spec?.components.count == 250)
        #expect(spec?.services.count == 250)
    }
}

@Suite("Parameter values")
struct ParameterValueTests {
    func parameter(_ kind: ParameterKind, values: [JSONValue] = []) -> ParameterSpec {
        ParameterSpec(name: "p", label: nil, kind: kind, values: values, defaultValue: nil, isRequired: true,
                      description: nil, declaredAt: SourceLocation(file: "x"))
    }

    @Test func integers() throws {
        #expect(try parameter(.integer).value(fromText: "42") == .int(42))
        #expect(throws: ParameterValueError.self) { try parameter(.integer).value(fromText: "4.2") }
    }

    @Test func booleans() throws {
        #expect(try parameter(.boolean).value(fromText: "yes") == .bool(true))
        #expect(try parameter(.boolean).value(fromText: "False") == .bool(false))
        #expect(throws: ParameterValueError.self) { try parameter(.boolean).value(fromText: "maybe") }
    }

    @Test func enums() throws {
        let tier = parameter(.enum, values: [.string("small"), .string("large")])
        #expect(try tier.value(fromText: "large") == .string("large"))
        let error = #expect(throws: ParameterValueError.self) { try tier.value(fromText: "medium") }
        #expect(error?.description == "parameter p: \"medium\" is not one of the allowed values: small, large")
        #expect(throws: ParameterValueError.self) { try tier.check(.int(3)) }
    }

    @Test func typedValues() throws {
        try parameter(.string).check(.string("x"))
        #expect(throws: ParameterValueError.self) { try parameter(.string).check(.int(1)) }
    }
}
