import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: registered clusters")
struct ClusterConformance {
    @Test("a cluster is stored once by name, read back as given, and listed by name", arguments: StoreKind.allCases)
    func registerAndRead(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            #expect(try await store.clusters().isEmpty)
            let prod = try await store.createCluster(NewCluster(
                name: "prod", kind: .kubernetes, kubeconfig: "/etc/kube/config", context: "prod-admin", inCluster: false,
                configJSON: #"{"fqdn_suffix":"apps.example.com"}"#))
            #expect(prod.createdAt == conformanceEpoch)
            let inside = try await store.createCluster(NewCluster(
                name: "home", kind: .kubernetes, kubeconfig: nil, context: nil, inCluster: true, configJSON: "{}"))
            #expect(try await store.cluster(named: "prod") == prod)
            #expect(try await store.cluster(named: "home") == inside)
            #expect(try await store.cluster(named: "Prod") == nil)
            #expect(try await store.clusters().map(\.name) == ["home", "prod"])
            await #expect {
                try await store.createCluster(NewCluster(name: "prod", kind: .kubernetes, kubeconfig: nil, context: nil, inCluster: true, configJSON: "{}"))
            } throws: { error in
                (error as? StateStoreError)?.code == .alreadyExists && "\(error)".contains("\"prod\"")
            }
            #expect(try await store.cluster(named: "prod") == prod, "a refused registration changes nothing")
        }
    }
}
