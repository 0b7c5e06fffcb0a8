@testable import ActionHost
import Foundation
import Testing

@Suite("Action isolation: who the host runs as, and what it sees")
struct IsolationPlanTests {
    static let nobody = ActionUser(name: "nobody", uid: 65534, gid: 65534)

    /// A scratch tree (removed afterwards) whose directories get the modes given.
    func tree(_ modes: [String: mode_t], body: (String) throws -> Void) throws {
        let root = try #require(FileAccess.canonical(NSTemporaryDirectory())) + "/flowrunner-plan-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (path, mode) in modes.sorted(by: { $0.key < $1.key }) {
            try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
            chmod(root + "/" + path, mode)
        }
        chmod(root, 0o755)
        try body(root)
    }

    @Test("an interpreter under a 0700 home: the home is covered and the interpreter shown again at its own path")
    func privateHome() throws {
        try tree(["home": 0o700, "home/.pyenv/versions/3.11": 0o755]) { root in
            let plan = MountPlan(user: Self.nobody, show: [root + "/home/.pyenv/versions/3.11"], hideDirectories: [], hideFiles: [])
            #expect(plan.steps == [
                .cover(root + "/home"),
                .makeDirectory(root + "/home/.pyenv"), .makeDirectory(root + "/home/.pyenv/versions"), .makeDirectory(root + "/home/.pyenv/versions/3.11"),
                .show(root + "/home/.pyenv/versions/3.11"),
            ])
        }
    }

    @Test("a reachable path needs no mount; a hidden directory is covered even when the user could enter it")
    func reachable() throws {
        try tree(["usr": 0o755, "state": 0o755]) { root in
            let plan = MountPlan(user: Self.nobody, show: [root + "/usr"], hideDirectories: [root + "/state"], hideFiles: [])
            #expect(plan.steps == [.cover(root + "/state")])
        }
    }

    @Test("the driver files inside the state directory are shown; the state file beside them stays covered")
    func driverInsideState() throws {
        try tree(["state": 0o700, "state/drivers/abc": 0o755]) { root in
            _ = FileManager.default.createFile(atPath: root + "/state/state.sqlite", contents: Data("x".utf8))
            let plan = MountPlan(user: Self.nobody, show: [root + "/state/drivers/abc"],
                                 hideDirectories: [root + "/state"], hideFiles: [root + "/state/state.sqlite"])
            #expect(plan.steps == [
                .cover(root + "/state"), .makeDirectory(root + "/state/drivers"), .makeDirectory(root + "/state/drivers/abc"),
                .show(root + "/state/drivers/abc"),
            ])
        }
    }

    @Test("a state directory inside a shown driver directory is covered after the bind; its files inside a shown one are masked")
    func stateInsideDriver() throws {
        try tree(["home": 0o700, "home/driver/.state": 0o755]) { root in
            _ = FileManager.default.createFile(atPath: root + "/home/driver/state.sqlite", contents: Data())
            let plan = MountPlan(user: Self.nobody, show: [root + "/home/driver"],
                                 hideDirectories: [root + "/home/driver/.state"], hideFiles: [root + "/home/driver/state.sqlite"])
            #expect(plan.steps == [
                .cover(root + "/home"), .makeDirectory(root + "/home/driver"), .show(root + "/home/driver"),
                .cover(root + "/home/driver/.state"), .maskFile(root + "/home/driver/state.sqlite"),
            ])
        }
    }

    @Test("a shared scratch directory (sticky, world-writable) is never covered: only the named files are masked")
    func sharedScratch() throws {
        try tree(["tmp": 0o1777]) { root in
            _ = FileManager.default.createFile(atPath: root + "/tmp/state.sqlite", contents: Data())
            let plan = MountPlan(user: Self.nobody, show: [], hideDirectories: [root + "/tmp", "/"],
                                 hideFiles: [root + "/tmp/state.sqlite", root + "/tmp/missing-wal"])
            #expect(plan.steps == [.maskFile(root + "/tmp/state.sqlite")])
        }
    }

    @Test("isolation is refused without root, with a way out; contradictory or root users are refused")
    func resolve() throws {
        let notRoot = #expect(throws: ActionHostError.self) { try ActionIsolation.resolve(user: nil, unisolated: false, effectiveUserID: 1000) }
        #expect(notRoot?.code == .isolationUnavailable)
        #expect(notRoot?.reason.contains("--unisolated-actions") == true)
        #expect(try ActionIsolation.resolve(user: nil, unisolated: true, effectiveUserID: 1000) == .unisolated)
        #expect(try ActionIsolation.resolve(user: "1234:5678", unisolated: false, effectiveUserID: 0) == .user(ActionUser(name: "1234:5678", uid: 1234, gid: 5678)))
        let both = #expect(throws: ActionHostError.self) { try ActionIsolation.resolve(user: "nobody", unisolated: true, effectiveUserID: 0) }
        #expect(both?.reason.contains("contradict") == true)
        for root in ["root", "0", "0:0", "1000:0"] {
            let refused = #expect(throws: ActionHostError.self) { try ActionUser.lookup(root) }
            #expect(refused?.reason.contains("as root") == true, "\(root)")
        }
        let unknown = #expect(throws: ActionHostError.self) { try ActionUser.lookup("no-such-user-flowrunner") }
        #expect(unknown?.reason.contains("no user \"no-such-user-flowrunner\"") == true)
    }

    @Test("the engine's protected paths: state directory and journals, home, every KUBECONFIG file")
    func protectedPaths() {
        let paths = ProtectedPaths.engine(stateFile: "/srv/fr/state.sqlite", environment: ["HOME": "/root", "KUBECONFIG": "/a/config::/b/config"])
        #expect(paths.directories == ["/srv/fr", "/root"])
        #expect(paths.files == ["/srv/fr/state.sqlite", "/srv/fr/state.sqlite-wal", "/srv/fr/state.sqlite-shm", "/srv/fr/state.sqlite-journal",
                                "/root/.kube/config", "/a/config", "/b/config"])
    }
}
