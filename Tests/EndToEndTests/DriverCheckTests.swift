import Foundation
import Testing

@Suite("drivers validate checks the Python files on the real interpreter")
struct DriverCheckTests {
    /// A copy of the testbed driver with `actions.py` replaced.
    func driver(_ workspace: Workspace, actions: String) throws -> String {
        let directory = workspace.exchange + "/checked"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: testbed + "/driver.styrmin.yml", toPath: directory + "/driver.styrmin.yml")
        try actions.write(toFile: directory + "/actions.py", atomically: true, encoding: .utf8)
        return directory
    }

    @Test("a misspelt primitive import is an error with its line and a suggestion; load refuses the driver")
    func misspeltImport() async throws {
        let workspace = Workspace()
        let directory = try driver(workspace, actions: """
            from prefect import flow
            from styrmin_backend.actions import stop_componets, start_components


            @flow
            async def upgrade(context, target_version):
                await stop_componets(["api"], context=context)

            """)
        let validated = try await workspace.run(["drivers", "validate", directory])
        #expect(validated.status == 1)
        #expect(validated.stdout.contains("\(directory)/actions.py:2:1"), "\(validated.stdout)")
        #expect(validated.stdout.contains("styrmin_backend.actions does not provide 'stop_componets' (did you mean stop_components?)"))
        let loaded = try await workspace.run(["drivers", "load", directory])
        #expect(loaded.status == 1)
        #expect((try await workspace.json(["drivers", "list", "--output", "json"]) as? [Any])?.isEmpty == true)
    }

    @Test("a syntax error in any Python file of the driver is an error with its line, found before a run")
    func syntaxError() async throws {
        let workspace = Workspace()
        let directory = try driver(workspace, actions: "from prefect import flow\n\n@flow\nasync def upgrade(context):\n    pass\n")
        try "def helper(:\n    return 1\n".write(toFile: directory + "/helpers.py", atomically: true, encoding: .utf8)
        let validated = try await workspace.run(["drivers", "validate", directory, "--output", "json"])
        #expect(validated.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(validated.stdout.utf8)) as? [String: Any]
        let errors = report?["errors"] as? [[String: Any]] ?? []
        #expect(errors.contains { ($0["file"] as? String)?.hasSuffix("helpers.py") == true && $0["line"] as? Int == 1
            && ($0["message"] as? String)?.contains("Python syntax error") == true }, "\(errors)")
    }

    @Test("the guide's driver and the testbed stay valid")
    func validDrivers() async throws {
        for directory in [testbed, FlowRunnerBinary.repository + "/actions-examples/my-app"] {
            let validated = try await FlowRunnerBinary.run(["drivers", "validate", directory])
            #expect(validated.status == 0, "\(validated.stdout)")
        }
    }
}
