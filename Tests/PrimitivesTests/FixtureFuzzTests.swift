import Foundation
import HostileInput
import Primitives
import Testing

@Suite("Fuzzed simulation fixtures: no crash, no hang, every error names the file")
struct FixtureFuzzTests {
    static let seed: [UInt8] = Array("""
        app_version: "0.1.0"
        components:
          server: {replicas: 2, images: ["web:0.1.0", "envoy:1.29"], env: {A: "1"}}
          worker: {never_ready: false}
        commands:
          - {match: "migrate*", exit_code: 0, output: "done", duration: 0.1}
          - {match: "fail", exit_code: 3}
        failures:
          - {primitive: start_components, call: 1, message: "flaky"}
        """.utf8)

    @Test("300 mutations of a valid fixture, read from a file", .timeLimit(.minutes(3)))
    func mutatedFixtures() throws {
        let original = NSTemporaryDirectory() + "flowrunner-fixture-seed-" + UUID().uuidString + ".yml"
        try Data(Self.seed).write(to: URL(fileURLWithPath: original))
        defer { try? FileManager.default.removeItem(atPath: original) }
        _ = try ClusterFixture.load(path: original)
        let directory = NSTemporaryDirectory() + "flowrunner-fixture-fuzz-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var mutator = HostileMutator(seed: 0xF1C_7E5)
        var refused = 0
        for round in 0..<300 {
            let path = directory + "/fixture-\(round).yml"
            try Data(mutator.mutate(Self.seed)).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ClusterFixture.load(path: path)
            } catch {
                refused += 1
                #expect(error.description.hasPrefix(path), "round \(round): \(error.description.prefix(300))")
            }
        }
        #expect(refused > 150 && refused < 300, "\(refused) of 300 refused: the mutations should break most fixtures, not all")
    }
}
