public import DriverSpec
public import FlowModel

/// The operator's inputs per component of one deployment (the guide's
/// Step 5): env var values (`--env COMPONENT.NAME=VALUE`) and container
/// command/args overrides (`--command COMPONENT=JSON`, `--args COMPONENT=JSON`),
/// which the values template reads through `component_env_vars`,
/// `component_command` and `component_args`.
///
/// Stored with the deployment as `{COMPONENT: {"env": {NAME: VALUE},
/// "command": [..], "args": [..]}}`; a hook's GlobalContext is built from them.
public struct ComponentInputs: Sendable, Hashable {
    /// Env var values by component and name.
    public var env: [String: [String: String]] = [:]
    /// Container entrypoint overrides by component.
    public var command: [String: [String]] = [:]
    /// Container argument overrides by component.
    public var args: [String: [String]] = [:]

    public init() {}

    /// The inputs stored with a deployment (``StateStore``'s `componentsJSON`); empty when unreadable.
    public init(storedText: String?) {
        guard case .object(let components)? = JSONValue(storedText: storedText) else { return }
        for (component, value) in components {
            if case .object(let variables)? = value["env"] {
                env[component] = variables.compactMapValues(\.stringValue)
            }
            if let list = value["command"]?.arrayValue { command[component] = list.compactMap(\.stringValue) }
            if let list = value["args"]?.arrayValue { args[component] = list.compactMap(\.stringValue) }
        }
    }

    public var isEmpty: Bool { env.isEmpty && command.isEmpty && args.isEmpty }

    /// An input to remove: an override (`--command COMPONENT=null`,
    /// `--args COMPONENT=null`) or an env value (`--env COMPONENT.NAME-`, as
    /// `kubectl set env` removes one).
    public struct Clearing: Sendable, Hashable {
        /// `command`, `args` or `env`.
        public var kind: String
        public var component: String
        /// The env var's name (kind `env` only).
        public var name: String?
    }

    /// The stored form.
    public var json: JSONValue {
        var components: [String: JSONValue] = [:]
        for name in Set(env.keys).union(command.keys).union(args.keys) {
            var entry: [String: JSONValue] = [:]
            if let variables = env[name], !variables.isEmpty { entry["env"] = .object(variables.mapValues(JSONValue.string)) }
            if let list = command[name] { entry["command"] = .array(list.map(JSONValue.string)) }
            if let list = args[name] { entry["args"] = .array(list.map(JSONValue.string)) }
            if !entry.isEmpty { components[name] = .object(entry) }
        }
        return .object(components)
    }

    /// These inputs with `changes` applied: env values set or replaced, and
    /// overrides set, or removed where `changes` clears them (`null`).
    public func applying(_ changes: ComponentInputs, clearing: Set<Clearing> = []) -> ComponentInputs {
        var merged = self
        for (component, variables) in changes.env { merged.env[component, default: [:]].merge(variables) { _, new in new } }
        for (component, list) in changes.command { merged.command[component] = list }
        for (component, list) in changes.args { merged.args[component] = list }
        for cleared in clearing {
            if cleared.kind == "env", let name = cleared.name {
                merged.env[cleared.component]?[name] = nil
                if merged.env[cleared.component]?.isEmpty == true { merged.env[cleared.component] = nil }
            } else {
                merged[keyPath: Self.overrides(cleared.kind)][cleared.component] = nil
            }
        }
        return merged
    }

    /// The overrides of `kind`: `command`, else `args`.
    static func overrides(_ kind: String) -> WritableKeyPath<ComponentInputs, [String: [String]]> {
        kind == "command" ? \.command : \.args
    }

    /// Sets the `kind` override of `component` from `value`: a list of
    /// strings, or null to clear it (added to `clearing`). False, changing
    /// nothing, when `value` is neither.
    mutating func setOverride(_ kind: String, of component: String, to value: JSONValue, clearing: inout Set<Clearing>) -> Bool {
        if value == .null {
            clearing.insert(Clearing(kind: kind, component: component))
            return true
        }
        guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else { return false }
        self[keyPath: Self.overrides(kind)][component] = list.compactMap(\.stringValue)
        return true
    }

    /// Reads `--env COMPONENT.NAME=VALUE` (or `COMPONENT.NAME-` to remove the
    /// value), `--command COMPONENT=JSON` and `--args COMPONENT=JSON` (a JSON
    /// list of strings, or `null` to clear). Removals are returned in
    /// `clearing`. A component name holding `.` is told apart from the var
    /// name when the inputs are checked against the driver (``checked(against:)``).
    ///
    /// - Throws: ``EngineError/Code/badInput`` naming the option and what was expected.
    public static func parse(env: [String], command: [String], args: [String]) throws(EngineError) -> (inputs: ComponentInputs, clearing: Set<Clearing>) {
        var inputs = ComponentInputs()
        var clearing = Set<Clearing>()
        for item in env {
            if !item.contains("="), item.hasSuffix("-"), let dot = item.firstIndex(of: "."), dot != item.startIndex,
               item.index(after: dot) < item.index(before: item.endIndex) {
                clearing.insert(Clearing(kind: "env", component: String(item[..<dot]), name: String(item[item.index(after: dot)..<item.index(before: item.endIndex)])))
                continue
            }
            guard let equals = item.firstIndex(of: "="), let dot = item[..<equals].firstIndex(of: "."),
                  dot != item.startIndex, item.index(after: dot) < equals else {
                throw EngineError(.badInput, "--env \"\(item)\": expected COMPONENT.NAME=VALUE, or COMPONENT.NAME- to remove it", field: "env")
            }
            inputs.env[String(item[..<dot]), default: [:]][String(item[item.index(after: dot)..<equals])] = String(item[item.index(after: equals)...])
        }
        for (option, items) in [("command", command), ("args", args)] {
            for item in items {
                guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                    throw EngineError(.badInput, "--\(option) \"\(item)\": expected COMPONENT=JSON (a list of strings, or null)", field: option)
                }
                let component = String(item[..<equals]), text = String(item[item.index(after: equals)...])
                guard let value = try? JSONValue(jsonText: text) else {
                    throw EngineError(.badInput, "--\(option) \(component): \(text.debugDescription) is not JSON; expected a list of strings such as [\"--debug\"], or null", field: option)
                }
                guard inputs.setOverride(option, of: component, to: value, clearing: &clearing) else {
                    throw EngineError(.badInput, "--\(option) \(component): expected a JSON list of strings, found \(value.typeName)", field: option)
                }
            }
        }
        return (inputs, clearing)
    }

    /// Reads the API's form: `env` `{COMPONENT: {NAME: VALUE}}` (a value a
    /// string, number or boolean, taken as its text; null removes it), `command` and `args`
    /// `{COMPONENT: [strings] | null}` (null clears, returned in `clearing`).
    ///
    /// - Throws: ``EngineError/Code/badInput`` naming the member (`env.server.X`, `args.server`).
    public static func parse(
        env: [String: JSONValue], command: [String: JSONValue], args: [String: JSONValue]
    ) throws(EngineError) -> (inputs: ComponentInputs, clearing: Set<Clearing>) {
        var inputs = ComponentInputs()
        var clearing = Set<Clearing>()
        for (component, variables) in env {
            guard let object = variables.objectValue else {
                throw EngineError(.badInput, "env.\(component) must be an object of NAME: VALUE, found \(variables.typeName)", field: "env.\(component)")
            }
            for (name, value) in object {
                let text: String
                switch value {
                case .string(let string): text = string
                case .int, .double, .bool: text = value.jsonText
                case .null:
                    clearing.insert(Clearing(kind: "env", component: component, name: name))
                    continue
                default: throw EngineError(.badInput, "env.\(component).\(name) must be a string, number or boolean, found \(value.typeName)", field: "env.\(component).\(name)")
                }
                inputs.env[component, default: [:]][name] = text
            }
        }
        for (kind, overrides) in [("command", command), ("args", args)] {
            for (component, value) in overrides where !inputs.setOverride(kind, of: component, to: value, clearing: &clearing) {
                throw EngineError(.badInput, "\(kind).\(component) must be a list of strings or null, found \(value.typeName)", field: "\(kind).\(component)")
            }
        }
        return (inputs, clearing)
    }

    /// These inputs as `spec` reads them, checked with ``check(against:)``:
    /// an env var given for a component whose name holds `.`
    /// (`--env my.server.LEVEL=1` first read as component `my`) is moved to
    /// the longest declared component its full name starts with.
    ///
    /// - Throws: ``EngineError/Code/refused`` as ``check(against:)`` does.
    public func checked(against spec: DriverSpecification) throws(EngineError) -> ComponentInputs {
        var resolved = self
        resolved.env = [:]
        for (component, variables) in env {
            for (name, value) in variables {
                let (owner, variable) = Self.split(component: component, name: name, spec: spec)
                resolved.env[owner, default: [:]][variable] = value
            }
        }
        try resolved.check(against: spec)
        return resolved
    }

    /// `clearing` as `spec` reads it (see ``checked(against:)``).
    public static func resolve(_ clearing: Set<Clearing>, against spec: DriverSpecification) -> Set<Clearing> {
        Set(clearing.map { cleared in
            guard cleared.kind == "env", let name = cleared.name else { return cleared }
            let (owner, variable) = split(component: cleared.component, name: name, spec: spec)
            return Clearing(kind: "env", component: owner, name: variable)
        })
    }

    /// The declared component and var that `component.name` means: as given
    /// when `component` is declared, else the longest declared component
    /// the whole text starts with followed by `.`.
    static func split(component: String, name: String, spec: DriverSpecification) -> (String, String) {
        guard spec.component(named: component) == nil else { return (component, name) }
        let whole = component + "." + name
        let owner = spec.components.map(\.name)
            .filter { whole.hasPrefix($0 + ".") && whole.count > $0.count + 1 }
            .max { $0.count < $1.count }
        guard let owner else { return (component, name) }
        return (owner, String(whole.dropFirst(owner.count + 1)))
    }

    /// Refuses inputs `spec` does not allow: an unknown component, an env var
    /// declared only for other components, an override for a component
    /// without a `container_overrides` entry allowing it, an env var name
    /// Kubernetes refuses (empty, with `=` or a control character), NUL in a
    /// value. Clearing an override is always allowed (a newer driver version
    /// may no longer declare it).
    ///
    /// - Throws: ``EngineError/Code/refused`` naming the component (and var) and what the driver declares.
    public func check(against spec: DriverSpecification) throws(EngineError) {
        let names = spec.components.map(\.name)
        func known(_ component: String, _ field: String) throws(EngineError) {
            guard spec.component(named: component) != nil else {
                throw EngineError(.refused, "no component \"\(component)\" in driver \(spec.name) (components: \(names.joined(separator: ", ")))", field: field)
            }
        }
        for (component, variables) in env.sorted(by: { $0.key < $1.key }) {
            try known(component, "env")
            for (name, value) in variables.sorted(by: { $0.key < $1.key }) {
                guard !name.isEmpty, !name.contains("="), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                    throw EngineError(.refused, "env var name \(name.debugDescription) of \(component): expected a name without '=' or control characters", field: "env.\(component)")
                }
                guard !value.contains("\u{0}") else {
                    throw EngineError(.refused, "env var \(name) of \(component): the value holds a NUL character", field: "env.\(component).\(name)")
                }
            }
            let own = Set(spec.component(named: component)?.envVars.map(\.name) ?? [])
            for name in variables.keys.sorted() where !own.contains(name) {
                let owners = spec.components.filter { $0.envVars.contains { $0.name == name } }.map(\.name)
                if !owners.isEmpty {
                    throw EngineError(.refused, "env var \(name) is declared for \(owners.joined(separator: ", ")), not for \(component)", field: "env")
                }
            }
        }
        for (kind, overrides) in [("command", command), ("args", args)] {
            for component in overrides.keys.sorted() {
                try known(component, kind)
                let allowed = spec.containerOverrides.contains { $0.component == component && (kind == "command" ? $0.command : $0.args) }
                guard allowed else {
                    throw EngineError(.refused, "component \(component) of driver \(spec.name) declares no \(kind) override (container_overrides)", field: kind)
                }
                if let list = overrides[component], list.contains(where: { $0.contains("\u{0}") }) {
                    throw EngineError(.refused, "the \(kind) of \(component) holds a NUL character", field: "\(kind).\(component)")
                }
            }
        }
    }
}
