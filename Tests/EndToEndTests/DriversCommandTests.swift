import Foundation
import Testing

@Suite("flowrunner drivers validate (real binary)")
struct DriversValidateEndToEndTests {
    @Test("the seed's my-app validates clean with exit 0")
    func myApp() async throws {
        let result = try await FlowRunnerBinary.run(["drivers", "validate", "actions-examples/my-app"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "my-app (driver version 1): valid, 0 errors, 0 warnings\n")
    }

    @Test("a broken driver prints FILE:LINE:COL findings and exits 1")
    func broken() async throws {
        let directory = "Tests/DriverSpecTests/Fixtures/invalid/parameter-defaults"
        let result = try await FlowRunnerBinary.run(["drivers", "validate", directory])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines.first == "\(directory)/driver.styrmin.yml:10:16: error: `spec.parameters[0].default`: expected an integer (kind integer), found string \"ten\"")
        #expect(lines.last == "parameter-defaults (driver version 1): invalid, 5 errors, 0 warnings")
    }

    @Test("--output json carries validity, driver identity and positioned findings")
    func json() async throws {
        let result = try await FlowRunnerBinary.run(["drivers", "validate", "Tests/DriverSpecTests/Fixtures/valid/unknown-keys", "--output", "json"])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == true)
        let driver = try #require(object["driver"] as? [String: Any])
        #expect(driver["name"] as? String == "unknown-keys")
        #expect((driver["digest"] as? String)?.count == 64)
        let warnings = try #require(object["warnings"] as? [[String: Any]])
        #expect(warnings.count == 3)
        #expect(warnings.first?["line"] as? Int == 9)
        #expect(warnings.first?["column"] as? Int == 3)
        #expect((object["errors"] as? [Any])?.isEmpty == true)
    }

    @Test("no such directory is exit 2 with the path named")
    func missing() async throws {
        let result = try await FlowRunnerBinary.run(["drivers", "validate", "/no/such/driver"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/no/such/driver: no such directory"))
    }

    @Test("a symbolic link to a file outside the driver is refused, naming the link; one inside is read", arguments: [true, false])
    func symbolicLinks(outside: Bool) async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/linked"
        try FileManager.default.copyItem(atPath: testbed, toPath: driver)
        let secret = workspace.directory + "/secret.txt"
        try "not for actions".write(toFile: secret, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: driver + "/data.txt", withDestinationPath: outside ? secret : driver + "/actions.py")
        let result = try await workspace.run(["drivers", "load", driver])
        if outside {
            #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("data.txt") && result.stderr.contains("outside the driver directory"), "\(result.stderr)")
            #expect(!result.stderr.contains("not for actions"))
        } else {
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        }
    }

    @Test("bad usage is exit 2")
    func usage() async throws {
        let result = try await FlowRunnerBinary.run(["drivers", "validate"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Missing expected argument"))
        #expect(try await FlowRunnerBinary.run(["drivers", "frobnicate"]).status == 2)
    }
}
