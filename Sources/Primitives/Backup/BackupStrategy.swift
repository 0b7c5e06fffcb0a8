public import DriverSpec

/// A component's backup strategy, `backup.kind` (the guide's "Backups and
/// restores"): a database tool's dump run as a job with the component's
/// image and env, then volume snapshots (`postgres`, `mariadb`, `mongodb`,
/// `neo4j`); volume snapshots alone (`disk`); or the driver's own actions
/// (`action`, `hook: backup` / `hook: restore`).
public enum BackupStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    case postgres, mariadb, mongodb, neo4j, disk, action

    /// Where a dump job mounts the dump's volume.
    public static let mountPath = "/backup"

    /// The strategy of `component`, nil when it is not backed up (no
    /// `backup` block, or `enabled: false`: a stateless component).
    public init?(of component: ComponentSpec) {
        guard let backup = component.backup, backup.enabled, let kind = backup.kind, let strategy = BackupStrategy(rawValue: kind) else { return nil }
        self = strategy
    }

    /// Whether the strategy runs a database tool's dump.
    public var dumpsDatabase: Bool {
        switch self {
        case .postgres, .mariadb, .mongodb, .neo4j: return true
        case .disk, .action: return false
        }
    }

    /// Whether FlowRunner does the work (every strategy but `action`).
    public var isBuiltIn: Bool { self != .action }

    /// The dump file of `component` inside ``mountPath``.
    public func dumpFile(component: String) -> String {
        switch self {
        case .postgres: return "\(Self.mountPath)/\(component).dump"
        case .mariadb: return "\(Self.mountPath)/\(component).sql"
        case .mongodb: return "\(Self.mountPath)/\(component).archive"
        case .neo4j, .disk, .action: return "\(Self.mountPath)/\(component)"
        }
    }

    /// The volume names of `backup.volume` / `backup.volumes` (the parser checked their shape).
    public static func volumes(of component: ComponentSpec) -> [String] {
        let options = component.backup?.options ?? [:]
        if let one = options["volume"]?.stringValue { return [one] }
        return options["volumes"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The database a dump reads (`database_name`; neo4j's default is `neo4j`).
    public static func database(of component: ComponentSpec) -> String {
        component.backup?.options["database_name"]?.stringValue ?? "neo4j"
    }

    /// The shell command that dumps `database` from `host` into
    /// ``dumpFile(component:)``. Credentials come from the component's env,
    /// as each image's documentation names them; names were checked to be
    /// plain words by the spec parser, so they go in unquoted.
    public func dumpCommand(component: String, database: String, host: String) -> String? {
        let file = dumpFile(component: component)
        switch self {
        case .postgres:
            return "export PGPASSWORD=\"${PGPASSWORD:-${POSTGRES_PASSWORD:-}}\"; "
                + "pg_dump --host=\(host) --username=\"${PGUSER:-${POSTGRES_USER:-postgres}}\" --format=custom --file=\(file) \(database)"
        case .mariadb:
            return "mariadb-dump --host=\(host) --user=\"${MARIADB_USER:-root}\" --password=\"${MARIADB_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}\" "
                + "--single-transaction --databases \(database) --result-file=\(file)"
        case .mongodb:
            return "mongodump --host=\(host) --username=\"${MONGODB_USERNAME:-${MONGO_INITDB_ROOT_USERNAME:-}}\" "
                + "--password=\"${MONGODB_PASSWORD:-${MONGO_INITDB_ROOT_PASSWORD:-}}\" --db=\(database) --archive=\(file)"
        case .neo4j:
            return "neo4j-admin database dump \(database) --to-path=\(file) --overwrite-destination=true"
        case .disk, .action:
            return nil
        }
    }

    /// The shell command that loads ``dumpFile(component:)`` back into
    /// `database` at `host`, replacing what is there.
    public func restoreCommand(component: String, database: String, host: String) -> String? {
        let file = dumpFile(component: component)
        switch self {
        case .postgres:
            return "export PGPASSWORD=\"${PGPASSWORD:-${POSTGRES_PASSWORD:-}}\"; "
                + "pg_restore --host=\(host) --username=\"${PGUSER:-${POSTGRES_USER:-postgres}}\" --clean --if-exists --no-owner --dbname=\(database) \(file)"
        case .mariadb:
            return "mariadb --host=\(host) --user=\"${MARIADB_USER:-root}\" --password=\"${MARIADB_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}\" < \(file)"
        case .mongodb:
            return "mongorestore --host=\(host) --username=\"${MONGODB_USERNAME:-${MONGO_INITDB_ROOT_USERNAME:-}}\" "
                + "--password=\"${MONGODB_PASSWORD:-${MONGO_INITDB_ROOT_PASSWORD:-}}\" --drop --nsInclude='\(database).*' --archive=\(file)"
        case .neo4j:
            return "neo4j-admin database load \(database) --from-path=\(file) --overwrite-destination=true"
        case .disk, .action:
            return nil
        }
    }
}
