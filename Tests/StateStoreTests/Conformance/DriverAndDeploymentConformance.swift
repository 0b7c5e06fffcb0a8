import FlowModel
import Foundation
@testable import StateStore
import Testing

@Suite("Conformance: driver versions, deployments, simulated clusters")
struct DriverAndDeploymentConformance {
    @Test("identical content is stored once; new content gets the next number", arguments: StoreKind.allCases)
    func driverVersions(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let files = [StoredDriverFile(path: "__init__.py", contents: []),
                         StoredDriverFile(path: "driver.styrmin.yml", contents: Array("kind: x".utf8))]
            let first = try await store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
            let again = try await store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files)
            let second = try await store.storeDriverVersion(driver: "my-app", specVersion: "2", digest: "bbb", files: [])
            let other = try await store.storeDriverVersion(driver: "other", specVersion: "1", digest: "aaa", files: [])
            #expect(first.created && !again.created && second.created && other.created)
            #expect(again.record == first.record)
            #expect([first.record.id, second.record.id, other.record.id] == [1, 2, 3])
            #expect([first.record.number, second.record.number, other.record.number] == [Int](arrayLiteral: 1, 2, 1))
            #expect(try await store.driverVersion(driver: "my-app")?.number == 2)
            #expect(try await store.driverVersion(driver: "my-app", number: 1)?.digest == "aaa")
            #expect(try await store.driverVersion(driver: "my-app", number: 3) == nil)
            #expect(try await store.driverVersion(driver: "nobody") == nil)
            #expect(try await store.driverVersion(id: second.record.id) == second.record)
            #expect(try await store.driverVersion(id: 99) == nil)
            #expect(try await store.driverFiles(versionID: first.record.id) == files)
            #expect(try await store.driverFiles(versionID: 99).isEmpty)
            #expect(try await store.driverVersions().count == 3)
            // The directory it was last loaded from is kept, and follows a load of the same content from elsewhere.
            #expect(first.record.sourceDirectory == nil)
            let located = try await store.storeDriverVersion(driver: "my-app", specVersion: "1", digest: "aaa", files: files, sourceDirectory: "/src/my-app")
            #expect(!located.created && located.record.id == first.record.id && located.record.sourceDirectory == "/src/my-app")
            #expect(try await store.driverVersion(id: first.record.id)?.sourceDirectory == "/src/my-app")
            let third = try await store.storeDriverVersion(driver: "my-app", specVersion: "3", digest: "ccc", files: [], sourceDirectory: "/src/v3")
            #expect(try await store.driverVersion(id: third.record.id)?.sourceDirectory == "/src/v3")
        }
    }

    @Test("a deployment keeps the config keys given as secrets, sorted", arguments: StoreKind.allCases)
    func secretConfigKeys(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let version = try await store.storeDriverVersion(driver: "drv", specVersion: "1", digest: "d", files: []).record
            let created = try await store.createDeployment(NewDeployment(
                name: "s", driver: "drv", driverVersionID: version.id, appVersion: "1", configJSON: #"{"b":"1","a":"2"}"#,
                cluster: "simulated", secretConfigKeys: ["b", "a"]
            ))
            #expect(created.secretConfigKeys == ["a", "b"])
            #expect(try await store.deployment(named: "s")?.secretConfigKeys == ["a", "b"])
            #expect(try await store.makeDeployment("plain").secretConfigKeys == [])
        }
    }

    @Test("versions are listed by driver and number; files by path", arguments: StoreKind.allCases)
    func ordering(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            for (driver, digest) in [("zeta", "1"), ("alpha", "1"), ("zeta", "2"), ("alpha", "2"), ("Zeta", "1")] {
                _ = try await store.storeDriverVersion(driver: driver, specVersion: "1", digest: digest, files: [])
                time.advance(by: 1)
            }
            let listed = try await store.driverVersions().map { "\($0.driver)#\($0.number)" }
            #expect(listed == ["Zeta#1", "alpha#1", "alpha#2", "zeta#1", "zeta#2"]) // byte order: capitals first
            #expect(try await store.driverVersions(driver: "zeta").map(\.number) == [1, 2])
            #expect(try await store.driverVersion(driver: "zeta")?.loadedAt == conformanceEpoch.addingTimeInterval(2))

            let files = ["b/x.py", "a.py", "B.py", "driver.styrmin.yml"].map { StoredDriverFile(path: $0, contents: Array($0.utf8)) }
            let version = try await store.storeDriverVersion(driver: "files", specVersion: "1", digest: "f", files: files).record
            #expect(try await store.driverFiles(versionID: version.id).map(\.path) == ["B.py", "a.py", "b/x.py", "driver.styrmin.yml"])
        }
    }

    @Test("two files with one path are refused and nothing is stored", arguments: StoreKind.allCases)
    func duplicateFiles(kind: StoreKind) async throws {
        try await withFreshStore(kind) { (store, _) async throws in // every `try` is inside #expect: say that the closure throws
            let files = [StoredDriverFile(path: "a.py", contents: [1]), StoredDriverFile(path: "a.py", contents: [2])]
            let error = await #expect(throws: StateStoreError.self) {
                try await store.storeDriverVersion(driver: "d", specVersion: "1", digest: "x", files: files)
            }
            // SQLite reports its unique constraint as a plain database failure.
            #expect(error?.code == .database)
            #expect(error?.location == store.location)
            #expect(try await store.driverVersions().isEmpty)
            #expect(try await store.driverFiles(versionID: 1).isEmpty)
        }
    }

    @Test("deployment names are unique; updates change what is given and stamp the time", arguments: StoreKind.allCases)
    func deployments(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let deployment = try await store.makeDeployment("shop")
            #expect(deployment.id == 1 && deployment.createdAt == conformanceEpoch && deployment.updatedAt == conformanceEpoch)
            let error = await #expect(throws: StateStoreError.self) { try await store.makeDeployment("shop") }
            #expect(error?.code == .alreadyExists)
            #expect(error?.location == store.location)
            #expect(try await store.deployment(id: deployment.id) == deployment)

            time.advance(by: 10)
            let newer = try await store.storeDriverVersion(driver: "drv", specVersion: "2", digest: "digest-2", files: []).record
            try await store.updateDeployment(id: deployment.id, appVersion: "0.2.0", driverVersionID: nil, parametersJSON: nil)
            var expected = deployment
            expected.appVersion = "0.2.0"
            expected.updatedAt = conformanceEpoch.addingTimeInterval(10)
            #expect(try await store.deployment(named: "shop") == expected)
            try await store.updateDeployment(id: deployment.id, appVersion: nil, driverVersionID: newer.id, parametersJSON: #"{"replicas":3}"#)
            expected.driverVersionID = newer.id
            expected.parametersJSON = #"{"replicas":3}"#
            #expect(try await store.deployment(named: "shop") == expected)

            let missing = await #expect(throws: StateStoreError.self) {
                try await store.updateDeployment(id: 9999, appVersion: "1", driverVersionID: nil, parametersJSON: nil)
            }
            #expect(missing?.code == .notFound)
            #expect(try await store.deployment(named: "nobody") == nil)
            #expect(try await store.deployment(id: 9999) == nil)
        }
    }

    @Test("deployments are listed by name and numbered in creation order", arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            for name in ["web", "api", "Worker", "db"] { _ = try await store.makeDeployment(name) }
            let listed = try await store.deployments()
            #expect(listed.map(\.name) == ["Worker", "api", "db", "web"])
            #expect(listed.map(\.id) == [3, 2, 4, 1])
        }
    }

    @Test("a reference to a missing driver version is refused and nothing is written", arguments: StoreKind.allCases)
    func missingDriverVersion(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            let created = await #expect(throws: StateStoreError.self) {
                try await store.createDeployment(NewDeployment(name: "x", driver: "drv", driverVersionID: 42, appVersion: "1", cluster: "simulated"))
            }
            // SQLite reports the foreign key as a plain database failure, not notFound.
            #expect(created?.code == .database)
            #expect(try await store.deployments().isEmpty)

            let deployment = try await store.makeDeployment("shop")
            let updated = await #expect(throws: StateStoreError.self) {
                try await store.updateDeployment(id: deployment.id, appVersion: "9", driverVersionID: 42, parametersJSON: nil)
            }
            #expect(updated?.code == .database)
            #expect(try await store.deployment(id: deployment.id) == deployment)
        }
    }

    @Test("simulated clusters: state replaced, jobs upserted by name in order and deleted", arguments: StoreKind.allCases)
    func simulatedClusters(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, _ in
            #expect(try await store.simulatedClusterState(deployment: "shop") == nil)
            #expect(try await store.simulatedJobs(deployment: "shop").isEmpty)
            try await store.saveSimulatedClusterState(deployment: "shop", stateJSON: #"{"v":1}"#,
                                                      upsertJobs: [("a", "a1"), ("b", "b1"), ("c", "c1")], deleteJobs: [])
            try await store.saveSimulatedClusterState(deployment: "other", stateJSON: "{}", upsertJobs: [("a", "other")], deleteJobs: [])
            // An upsert keeps a job's place; a deleted job that comes back goes last.
            try await store.saveSimulatedClusterState(deployment: "shop", stateJSON: #"{"v":2}"#,
                                                      upsertJobs: [("a", "a2"), ("d", "d1"), ("b", "b2")], deleteJobs: ["b", "zzz"])
            #expect(try await store.simulatedClusterState(deployment: "shop") == #"{"v":2}"#)
            #expect(try await store.simulatedJobs(deployment: "shop") == ["a2", "c1", "d1", "b2"])
            // Deleting the last job and adding one: it follows the remaining ones.
            try await store.saveSimulatedClusterState(deployment: "shop", stateJSON: #"{"v":3}"#, upsertJobs: [("e", "e1")], deleteJobs: ["b2", "b"])
            #expect(try await store.simulatedJobs(deployment: "shop") == ["a2", "c1", "d1", "e1"])
            try await store.saveSimulatedClusterState(deployment: "shop", stateJSON: "{}", upsertJobs: [], deleteJobs: ["a", "c", "d", "e"])
            #expect(try await store.simulatedJobs(deployment: "shop").isEmpty)
            #expect(try await store.simulatedClusterState(deployment: "shop") == "{}")
            #expect(try await store.simulatedJobs(deployment: "other") == ["other"])
        }
    }

    @Test("a deployment keeps its component inputs; setting them replaces them, an unknown id is notFound", arguments: StoreKind.allCases)
    func componentInputs(kind: StoreKind) async throws {
        try await withFreshStore(kind) { store, time in
            let version = try await store.storeDriverVersion(driver: "drv", specVersion: "1", digest: "d", files: []).record
            let created = try await store.createDeployment(NewDeployment(
                name: "app", driver: "drv", driverVersionID: version.id, appVersion: "1", cluster: "simulated",
                componentsJSON: #"{"server":{"args":["--a"]}}"#))
            #expect(created.componentsJSON == #"{"server":{"args":["--a"]}}"#)
            #expect(try await store.deployment(named: "app")?.componentsJSON == #"{"server":{"args":["--a"]}}"#)
            time.advance(by: 5)
            try await store.setDeploymentComponents(id: created.id, componentsJSON: "{}")
            let changed = try await store.deployment(id: created.id)
            #expect(changed?.componentsJSON == "{}" && changed?.updatedAt == time.now)
            await #expect(throws: StateStoreError.self) {
                try await store.setDeploymentComponents(id: 999, componentsJSON: "{}")
            }
            let other = try await store.createDeployment(NewDeployment(name: "b", driver: "drv", driverVersionID: version.id, appVersion: "1", cluster: "simulated"))
            #expect(other.componentsJSON == "{}")
        }
    }
}
