import DriverSpec
import Foundation
import HostileInput
import Testing

@Suite("Fuzzed driver specs: no crash, no hang, every finding names the file")
struct LoaderFuzzTests {
    static let seed: [UInt8] = Array("""
        apiVersion: styrmin.io/v1
        kind: ApplicationDriver
        metadata:
          name: fuzzed
        spec:
          version: "1"
          supported_versions: ">=1.0,<2.0"
          default_version: "1.0.0"
          helm:
            main: {location: charts/main, version: 1.2.3}
          components:
            web:
              identifier: {label: {app.kubernetes.io/name: web}}
          actions:
            - {name: upgrade, hook: upgrade, mode: core, location: "actions.py::upgrade"}
          parameters:
            - {name: replicas, kind: integer, default: 3}
            - {name: ratio, kind: number, default: 0.5}
            - {name: flavour, kind: enum, values: [a, b], default: a}
        """.utf8)

    @Test("400 mutations of a valid spec", .timeLimit(.minutes(3)))
    func mutatedSpecs() {
        var mutator = HostileMutator(seed: 0x5EED_F00D)
        let actions = DriverFile(path: "actions.py", contents: Array("async def upgrade(context):\n    pass\n".utf8))
        var invalid = 0
        for round in 0..<400 {
            let bytes = mutator.mutate(Self.seed)
            let snapshot = DriverSnapshot(files: [DriverFile(path: "driver.styrmin.yml", contents: bytes), actions])
            let loaded = DriverLoader.load(snapshot: snapshot, displayDirectory: "fuzz")
            let errors = loaded.diagnostics.filter { $0.severity == .error }
            if !errors.isEmpty { invalid += 1 }
            #expect(loaded.isValid || !errors.isEmpty, "round \(round): invalid without an error")
            for finding in loaded.diagnostics {
                #expect(finding.location.file.hasPrefix("fuzz/"), "round \(round): \(finding) does not name the file")
            }
        }
        #expect(invalid > 200 && invalid < 400, "\(invalid) of 400 invalid: the mutations should break most specs, not all")
    }
}
