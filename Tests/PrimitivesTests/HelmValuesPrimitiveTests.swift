import FlowModel
import Primitives
import Synchronization
import Testing

/// Values that depend on the app version, as a template would render them;
/// `failing` versions do not render. Counts the renders asked for.
final class VersionedValues: HelmValuesSource {
    let failing: Set<String>
    let extra: Mutex<JSONValue>
    let renders = Atomic(0)

    init(failing: Set<String> = [], extra: JSONValue = .null) {
        self.failing = failing
        self.extra = Mutex(extra)
    }

    func values(appVersion: String) async throws(PrimitiveError) -> JSONValue? {
        renders.add(1, ordering: .relaxed)
        guard !failing.contains(appVersion) else { throw .values("values.j2.yml:3: 'nope' is undefined") }
        return ["image": ["tag": .string(appVersion)], "extra": extra.withLock { $0 }]
    }
}

@Suite("install and upgrade apply the Helm values and the simulated cluster records each release")
struct HelmValuesPrimitiveTests {
    @Test("the install and each upgrade are releases with their values; an unchanged upgrade is no release")
    func releases() async throws {
        var bench = try await Bench()
        let values = VersionedValues()
        bench.values = values
        _ = try await PrimitiveCatalogue.executeBuiltIn(name: "install_components", arguments: ["version": "0.1.0", "components": ["server"]],
                                                    in: bench.environment)
        let first = try await bench.call("upgrade_deployment_version", ["target_version": "0.2.0"])
        #expect(first["changed"] == true)
        var releases = try await bench.state().releases
        // The bench installed once without values, then the built-in install and the upgrade applied theirs.
        #expect(releases.map(\.revision) == [1, 2, 3])
        #expect(releases.map(\.values) == [nil, ["image": ["tag": "0.1.0"], "extra": .null], ["image": ["tag": "0.2.0"], "extra": .null]])
        let unchanged = try await bench.call("upgrade_deployment_version", ["target_version": "0.2.0"])
        #expect(unchanged["changed"] == false)
        #expect(try await bench.state().releases.count == 3)

        // Other values at the same version (an operator changed an input): applied, as Helm and Flux do.
        values.extra.withLock { $0 = "more" }
        let changed = try await bench.call("upgrade_deployment_version", ["target_version": "0.2.0"])
        #expect(changed["changed"] == true)
        releases = try await bench.state().releases
        #expect(releases.count == 4 && releases.last?.values?["extra"] == "more" && releases.last?.appVersion == "0.2.0")
    }

    @Test("values that do not render fail the upgrade before the cluster changes")
    func unrenderable() async throws {
        var bench = try await Bench()
        bench.values = VersionedValues(failing: ["0.3.0"])
        await #expect {
            try await bench.call("upgrade_deployment_version", ["target_version": "0.3.0"])
        } throws: { error in
            (error as? PrimitiveError)?.code == .values && "\(error)".contains("values.j2.yml:3")
        }
        let state = try await bench.state()
        #expect(state.appVersion == "0.1.0" && state.releases.count == 1)
        #expect(state.workloads.allSatisfy { $0.images.allSatisfy { $0.hasSuffix(":0.1.0") } })
    }

    @Test("only the last ten releases are kept, and a state saved before releases existed still loads")
    func history() async throws {
        let bench = try await Bench()
        for minor in 2...14 {
            try await bench.call("upgrade_deployment_version", ["target_version": .string("0.\(minor).0")])
        }
        let releases = try await bench.state().releases
        #expect(releases.count == SimulatedClusterState.retainedReleases && releases.first?.revision == 5 && releases.last?.revision == 14)
        let old = try SimulatedClusterState(jsonText: #"{"app_version":"0.1.0","workloads":[],"jobs":[],"primitive_calls":{}}"#)
        #expect(old.releases.isEmpty && old.appVersion == "0.1.0")
    }
}
