import DriverSpec
public import FlowModel
import Foundation

/// A simulation fixture: how the simulated cluster looks and behaves, for
/// dry-runs and tests. YAML:
///
/// ```yaml
/// app_version: "0.1.0"          # installed version (dry-run --from overrides)
/// components:
///   server:
///     replicas: 3               # default 1
///     images: ["my-app:0.1.0", "envoy:1.29"]   # default <label value>:<app version>
///     env: {DATABASE_URL: "postgres://db"}
///     never_ready: true         # starting it never finishes (a timeout)
///   database:
///     data_size: 52428800       # bytes a dump or snapshot of it holds (default 1 MiB)
///     dump_fails: "pg_dump: error: connection refused"    # its dump job exits 1 with this output
///     restore_fails: "pg_restore: error: ..."              # its restore job exits 1 with this output
///     snapshot_fails: "volume snapshot failed"             # its volume snapshot fails
/// commands:
///   - match: "my-app-upgrade*"  # exact text, or a pattern with * and ?
///     exit_code: 1
///     output: "migration failed"
///     duration: 0.5             # seconds the command takes
/// failures:
///   - primitive: execute_commands
///     call: 2                   # the 2nd call of that primitive fails
///     message: "injected: API server unavailable"
/// ```
public struct ClusterFixture: Sendable, Hashable {
    /// One component's simulated workload.
    public struct Component: Sendable, Hashable {
        public var replicas: Int?
        public var images: [String]?
        public var environment: [String: String]
        public var neverReady: Bool
        /// Bytes a dump or snapshot of the component holds.
        public var dataSize: Int?
        /// Its dump job fails with this output.
        public var dumpFails: String?
        /// Its restore job fails with this output.
        public var restoreFails: String?
        /// Its volume snapshot fails with this message.
        public var snapshotFails: String?

        public init(replicas: Int? = nil, images: [String]? = nil, environment: [String: String] = [:], neverReady: Bool = false) {
            self.replicas = replicas
            self.images = images
            self.environment = environment
            self.neverReady = neverReady
        }
    }

    /// How commands matching `match` behave.
    public struct Command: Sendable, Hashable {
        public var match: String
        public var exitCode: Int
        public var output: String
        public var duration: Double

        public init(match: String, exitCode: Int = 0, output: String = "", duration: Double = 0) {
            self.match = match
            self.exitCode = exitCode
            self.output = output
            self.duration = duration
        }

        /// Whether `command` matches (`*` any run of characters, `?` one character).
        public func matches(_ command: String) -> Bool {
            Self.glob(Array(match), Array(command))
        }

        static func glob(_ pattern: [Character], _ text: [Character]) -> Bool {
            var p = 0, t = 0, star = -1, mark = 0
            while t < text.count {
                if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                    p += 1
                    t += 1
                } else if p < pattern.count, pattern[p] == "*" {
                    star = p
                    mark = t
                    p += 1
                } else if star >= 0 {
                    p = star + 1
                    mark += 1
                    t = mark
                } else {
                    return false
                }
            }
            while p < pattern.count, pattern[p] == "*" { p += 1 }
            return p == pattern.count
        }
    }

    /// The `call`-th call of `primitive` fails with `message`.
    public struct Failure: Sendable, Hashable {
        public var primitive: String
        public var call: Int
        public var message: String

        public init(primitive: String, call: Int, message: String) {
            self.primitive = primitive
            self.call = call
            self.message = message
        }
    }

    /// The file the fixture was read from, for messages.
    public var file: String?
    public var appVersion: String?
    public var components: [String: Component]
    public var commands: [Command]
    public var failures: [Failure]

    /// An empty fixture: the defaults everywhere.
    public init(appVersion: String? = nil, components: [String: Component] = [:], commands: [Command] = [], failures: [Failure] = []) {
        self.appVersion = appVersion
        self.components = components
        self.commands = commands
        self.failures = failures
    }

    /// The behaviour of `command`: the first matching entry, else exit 0 with no output.
    public func behaviour(of command: String) -> Command {
        commands.first { $0.matches(command) } ?? Command(match: command)
    }

    /// Reads a fixture file.
    /// - Throws: a ``FixtureError`` naming the file and the field (or line) at fault.
    public static func load(path: String) throws(FixtureError) -> ClusterFixture {
        let data: Data
        do {
            data = try RegularFile.contents(atPath: path, maximumBytes: 4 << 20)
        } catch {
            throw FixtureError(file: path, field: nil, "cannot read the fixture file: it \(error.reason)")
        }
        let value: JSONValue
        do {
            value = try YAMLData.load(text: String(decoding: data, as: UTF8.self), file: path)
        } catch {
            throw FixtureError(file: path, field: nil, "\(error.location.line):\(error.location.column): \(error.message)")
        }
        var fixture = try decode(value, file: path)
        fixture.file = path
        return fixture
    }

    /// Decodes a fixture from plain data.
    public static func decode(_ value: JSONValue, file: String) throws(FixtureError) -> ClusterFixture {
        var fixture = ClusterFixture()
        if case .null = value { return fixture }
        let reader = FixtureReader(file: file)
        let top = try reader.object(value, "(document)", known: ["app_version", "components", "commands", "failures"])
        if let version = top["app_version"] { fixture.appVersion = try reader.scalarText(version, "app_version") }
        if let components = top["components"] {
            for (name, body) in try reader.object(components, "components", known: nil) {
                let path = "components.\(name)"
                let fields = try reader.object(body, path, known: [
                    "replicas", "images", "env", "never_ready", "data_size", "dump_fails", "restore_fails", "snapshot_fails",
                ])
                var component = Component()
                if let replicas = fields["replicas"] {
                    component.replicas = try reader.integer(replicas, "\(path).replicas", minimum: 0)
                }
                if let images = fields["images"] { component.images = try reader.strings(images, "\(path).images") }
                if let env = fields["env"] {
                    component.environment = try reader.object(env, "\(path).env", known: nil).mapValues { $0.description }
                }
                if let neverReady = fields["never_ready"] { component.neverReady = try reader.boolean(neverReady, "\(path).never_ready") }
                if let size = fields["data_size"] {
                    let bytes = try reader.integer(size, "\(path).data_size", minimum: 0)
                    guard bytes <= 1 << 50 else { throw reader.error("\(path).data_size", "expected at most 1 PiB (\(1 << 50) bytes), found \(bytes)") }
                    component.dataSize = bytes
                }
                if let message = fields["dump_fails"] { component.dumpFails = try reader.scalarText(message, "\(path).dump_fails") }
                if let message = fields["restore_fails"] { component.restoreFails = try reader.scalarText(message, "\(path).restore_fails") }
                if let message = fields["snapshot_fails"] { component.snapshotFails = try reader.scalarText(message, "\(path).snapshot_fails") }
                fixture.components[name] = component
            }
        }
        if let commands = top["commands"] {
            for (index, item) in try reader.list(commands, "commands").enumerated() {
                let path = "commands[\(index)]"
                let fields = try reader.object(item, path, known: ["match", "exit_code", "output", "duration"])
                guard let match = fields["match"] else { throw reader.error(path, "missing required key `match` (the command text or a pattern)") }
                var command = Command(match: try reader.scalarText(match, "\(path).match"))
                if let code = fields["exit_code"] { command.exitCode = try reader.integer(code, "\(path).exit_code", minimum: 0) }
                if let output = fields["output"] { command.output = try reader.scalarText(output, "\(path).output") }
                if let duration = fields["duration"] { command.duration = try reader.number(duration, "\(path).duration") }
                fixture.commands.append(command)
            }
        }
        if let failures = top["failures"] {
            for (index, item) in try reader.list(failures, "failures").enumerated() {
                let path = "failures[\(index)]"
                let fields = try reader.object(item, path, known: ["primitive", "call", "message"])
                guard let primitive = fields["primitive"] else { throw reader.error(path, "missing required key `primitive`") }
                let name = try reader.scalarText(primitive, "\(path).primitive")
                guard PrimitiveCatalogue.canonicalName(name) != nil else {
                    throw reader.error("\(path).primitive", "unknown primitive \"\(name)\" (known: \(PrimitiveCatalogue.names.joined(separator: ", ")))")
                }
                let call = try fields["call"].map { value throws(FixtureError) in try reader.integer(value, "\(path).call", minimum: 1) } ?? 1
                let message = try fields["message"].map { value throws(FixtureError) in try reader.scalarText(value, "\(path).message") }
                    ?? "injected failure of \(name) call \(call)"
                fixture.failures.append(Failure(primitive: PrimitiveCatalogue.canonicalName(name) ?? name, call: call, message: message))
            }
        }
        return fixture
    }
}

/// A fixture that does not say what is expected.
public struct FixtureError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The fixture file.
    public var file: String
    /// The field at fault (`commands[0].exit_code`), when known.
    public var field: String?
    /// What was expected.
    public var reason: String

    init(file: String, field: String?, _ reason: String) {
        self.file = file
        self.field = field
        self.reason = reason
    }

    /// `FILE: `field`: REASON`.
    public var description: String {
        if let field { return "\(file): `\(field)`: \(reason)" }
        return "\(file): \(reason)"
    }
}

/// Typed access to fixture data with errors naming the field.
struct FixtureReader {
    let file: String

    func error(_ field: String, _ reason: String) -> FixtureError {
        FixtureError(file: file, field: field, reason)
    }

    func object(_ value: JSONValue, _ field: String, known: Set<String>?) throws(FixtureError) -> [String: JSONValue] {
        if case .null = value { return [:] }
        guard case .object(let members) = value else { throw error(field, "expected a mapping, found \(value.typeName)") }
        if let known {
            for key in members.keys where !known.contains(key) {
                throw error(field, "unknown key \"\(key)\" (known keys: \(known.sorted().joined(separator: ", ")))")
            }
        }
        return members
    }

    func list(_ value: JSONValue, _ field: String) throws(FixtureError) -> [JSONValue] {
        if case .null = value { return [] }
        guard case .array(let items) = value else { throw error(field, "expected a list, found \(value.typeName)") }
        return items
    }

    func scalarText(_ value: JSONValue, _ field: String) throws(FixtureError) -> String {
        switch value {
        case .string(let text): return text
        case .int, .double, .bool: return value.description
        default: throw error(field, "expected a string, found \(value.typeName)")
        }
    }

    func strings(_ value: JSONValue, _ field: String) throws(FixtureError) -> [String] {
        var result: [String] = []
        for (index, item) in try list(value, field).enumerated() {
            result.append(try scalarText(item, "\(field)[\(index)]"))
        }
        return result
    }

    func integer(_ value: JSONValue, _ field: String, minimum: Int) throws(FixtureError) -> Int {
        guard case .int(let number) = value else { throw error(field, "expected an integer, found \(value.typeName) \(value)") }
        guard number >= minimum else { throw error(field, "expected an integer of at least \(minimum), found \(number)") }
        return number
    }

    func number(_ value: JSONValue, _ field: String) throws(FixtureError) -> Double {
        guard let number = value.doubleValue else {
            throw error(field, "expected a number of seconds, found \(value.typeName) \(value)")
        }
        do {
            return try Seconds.checked(number, allowsZero: true)
        } catch {
            throw self.error(field, error.description)
        }
    }

    func boolean(_ value: JSONValue, _ field: String) throws(FixtureError) -> Bool {
        guard case .bool(let flag) = value else { throw error(field, "expected true or false, found \(value.typeName) \(value)") }
        return flag
    }
}
