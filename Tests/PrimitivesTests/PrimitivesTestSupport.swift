import DriverSpec
import FlowModel
import Foundation
import Primitives

/// A driver spec for primitive tests: server (my-app), worker, database.
let testSpec: DriverSpecification = {
    let yaml = """
    apiVersion: styrmin.io/v1
    kind: ApplicationDriver
    metadata: {name: shop}
    spec:
      version: "1"
      supported_versions: ">=0.1,<1.0"
      components:
        server:
          identifier: {label: {app.kubernetes.io/name: my-app}}
          env_vars: [{name: MODE, value: web}]
        worker:
          identifier: {label: {styrmin/component: worker}}
        database:
          identifier: {label: {app.kubernetes.io/name: postgresql}}
    """
    let (spec, diagnostics) = DriverLoader.parse(yaml: yaml, file: "test.yml")
    guard let spec, diagnostics.errors.isEmpty else { fatalError("test spec is invalid: \(diagnostics)") }
    return spec
}()

/// An installed simulated cluster and a way to call primitives on it.
struct Bench {
    let cluster: SimulatedCluster
    var jobName = "fr-1-upgrade-1"
    /// The Helm values install and upgrade apply (nil: none).
    var values: (any HelmValuesSource)?

    init(fixture: ClusterFixture = ClusterFixture(), storage: any SimulatedClusterStorage = InMemoryClusterStorage(), version: String = "0.1.0") async throws {
        cluster = SimulatedCluster(storage: storage, fixture: fixture)
        try await cluster.install(spec: testSpec, version: version, values: nil)
    }

    var environment: PrimitiveEnvironment {
        PrimitiveEnvironment(deployment: "shop", spec: testSpec, cluster: cluster, jobName: jobName, defaultTimeout: .seconds(5), values: values)
    }

    @discardableResult
    func call(_ name: String, _ arguments: JSONValue) async throws -> JSONValue {
        try await PrimitiveCatalogue.execute(name: name, arguments: arguments, in: environment)
    }

    func state() async throws -> SimulatedClusterState {
        try await cluster.state()
    }

    func workload(_ component: String) async throws -> SimulatedClusterState.Workload? {
        try await state().workloads.first { $0.component == component }
    }
}
