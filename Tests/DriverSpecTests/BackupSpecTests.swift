import DriverSpec
import FlowModel
import Testing

@Suite("A component's backup block: strategy settings and the actions kind action needs")
struct BackupSpecTests {
    func errors(backup: String, actions: String = "") -> [String] {
        let yaml = """
            apiVersion: styrmin.io/v1
            kind: ApplicationDriver
            metadata: {name: backups}
            spec:
              version: "1"
              components:
                db:
                  identifier: {label: {app: db}}
                  backup: {\(backup)}
            \(actions.isEmpty ? "" : "  actions:\n" + actions)
            """
        let (_, diagnostics) = DriverLoader.parse(yaml: yaml, file: "driver.styrmin.yml")
        return diagnostics.errors.map(\.description)
    }

    static let backupAction = "    - {name: dump, hook: backup, mode: core, location: \"actions.py::dump\"}\n"
    static let restoreAction = "    - {name: load, hook: restore, mode: core, location: \"actions.py::load\"}\n"

    @Test("the guide's strategies with their settings are accepted", arguments: [
        "enabled: true, kind: postgres, database_name: my_app", "kind: mariadb, database_name: shop, host: shop-db",
        "kind: mongodb, database_name: docs", "kind: neo4j", "kind: disk", "kind: disk, volume: data",
        "kind: disk, volumes: [data, logs]", "enabled: false",
    ])
    func accepted(backup: String) {
        #expect(errors(backup: backup).isEmpty, "\(errors(backup: backup))")
    }

    @Test("a setting a strategy cannot use is refused, naming the field", arguments: [
        ("kind: postgres", "`spec.components.db.backup`: a postgres backup needs `database_name`"),
        ("kind: postgres, database_name: \"my app; rm -rf /\"", "`spec.components.db.backup.database_name`: expected a name"),
        ("kind: mariadb, database_name: shop, host: [a]", "`spec.components.db.backup.host`: expected a name"),
        ("kind: disk, volume: a, volumes: [b]", "give `volume` or `volumes`, not both"),
        ("kind: disk, volumes: []", "`spec.components.db.backup.volumes`: expected a list of volume names"),
        ("kind: pgdump", "unknown backup strategy \"pgdump\""),
    ])
    func refused(backup: String, message: String) {
        let found = errors(backup: backup)
        #expect(found.contains { $0.contains(message) }, "\(found)")
    }

    @Test("kind action needs the driver's backup and restore actions")
    func actionNeedsActions() {
        let none = errors(backup: "kind: action")
        #expect(none.contains { $0.contains("kind action needs an action with `hook: backup`") }, "\(none)")
        #expect(none.contains { $0.contains("kind action needs an action with `hook: restore`") }, "\(none)")
        let onlyBackup = errors(backup: "kind: action", actions: Self.backupAction)
        #expect(onlyBackup.count == 1 && onlyBackup[0].contains("`hook: restore`"), "\(onlyBackup)")
        #expect(errors(backup: "kind: action", actions: Self.backupAction + Self.restoreAction).isEmpty)
    }

    @Test("the new hooks are known to validation; a second core action of one is refused")
    func newHooks() {
        let actions = Self.backupAction + Self.restoreAction
            + "    - {name: gone, hook: delete, mode: core, location: \"actions.py::gone\"}\n"
            + "    - {name: dump2, hook: backup, mode: core, location: \"actions.py::dump2\"}\n"
        let found = errors(backup: "kind: action", actions: actions)
        #expect(found.count == 1 && found[0].contains("a second core action \"dump2\" for hook backup"), "\(found)")
        let unknown = errors(backup: "kind: disk", actions: "    - {name: x, hook: snapshot, mode: core, location: \"a.py::x\"}\n")
        #expect(unknown.contains { $0.contains("setup, upgrade, backup, restore, delete") }, "\(unknown)")
    }
}
