import FlowModel
import Yams

/// Turns a composed `driver.styrmin.yml` into a ``DriverSpecification``,
/// reporting every structural problem (missing keys, wrong types, unknown
/// hooks, duplicates, dangling component references) with its position.
struct SpecParser {
    var reader: YAMLReader

    init(file: String) {
        reader = YAMLReader(file: file)
    }

    static let expectedAPIVersion = "styrmin.io/v1"
    static let expectedKind = "ApplicationDriver"

    /// Parses the document; nil when a required piece is missing or broken
    /// (the diagnostics say which).
    mutating func parse(_ root: Node) -> DriverSpecification? {
        guard let top = reader.mapping(root, "(document)") else { return nil }
        let entries = reader.entries(top, "(document)", known: ["apiVersion", "kind", "metadata", "spec"])
        var complete = true

        func required(_ key: String, _ path: String, in entries: [String: Node], of parent: Node) -> Node? {
            if let node = entries[key], !YAMLReader.isNull(node) { return node }
            reader.error("missing required key `\(path)`", at: parent)
            complete = false
            return nil
        }

        var apiVersion = ""
        if let node = required("apiVersion", "apiVersion", in: entries, of: root),
           let text = reader.nonEmptyString(node, "apiVersion") {
            apiVersion = text
            if text != Self.expectedAPIVersion {
                reader.warning("`apiVersion`: expected \"\(Self.expectedAPIVersion)\", found \"\(text)\"", at: node)
            }
        }
        var kind = ""
        if let node = required("kind", "kind", in: entries, of: root), let text = reader.nonEmptyString(node, "kind") {
            kind = text
            if text != Self.expectedKind {
                reader.error("`kind`: expected \"\(Self.expectedKind)\", found \"\(text)\"", at: node)
            }
        }
        var name: String?
        if let node = required("metadata", "metadata", in: entries, of: root), let metadata = reader.mapping(node, "metadata") {
            let fields = reader.entries(metadata, "metadata", known: ["name", "labels", "annotations"])
            if let nameNode = required("name", "metadata.name", in: fields, of: node) {
                name = reader.nonEmptyString(nameNode, "metadata.name")
                if let text = name, !Self.isValidName(text) {
                    reader.error("`metadata.name`: \"\(text)\" is not a valid driver name (expected letters, digits, '-', '_' or '.')", at: nameNode)
                }
            }
        }
        guard let specNode = required("spec", "spec", in: entries, of: root),
              let spec = reader.mapping(specNode, "spec") else { return nil }
        let fields = reader.entries(spec, "spec", known: [
            "version", "supported_versions", "default_version", "info", "helm", "components",
            "services", "actions", "parameters", "container_overrides",
        ])
        var version: String?
        if let node = required("version", "spec.version", in: fields, of: specNode) {
            version = reader.nonEmptyString(node, "spec.version")
        }
        let supported = fields["supported_versions"].flatMap { parseSupportedVersions($0) }
        let defaultVersion = fields["default_version"].flatMap { parseDefaultVersion($0, supported: supported) }
        let info = fields["info"].map { parseInfo($0) } ?? DriverInfo()
        let helm = fields["helm"].map { parseHelm($0) } ?? [:]
        let components = fields["components"].map { parseComponents($0) } ?? []
        let declared = Set(components.map(\.name))
        let services = fields["services"].map { parseServices($0, components: declared) } ?? []
        let actions = fields["actions"].map { parseActions($0) } ?? []
        checkBackupActions(components, actions)
        let parameters = fields["parameters"].map { parseParameters($0) } ?? []
        let overrides = fields["container_overrides"].map { parseOverrides($0, components: declared) } ?? []

        guard complete, let name, let version else { return nil }
        return DriverSpecification(
            apiVersion: apiVersion, kind: kind, name: name, version: version,
            supportedVersions: supported, defaultVersion: defaultVersion, info: info,
            helmCharts: helm, components: components, services: services, actions: actions,
            parameters: parameters, containerOverrides: overrides
        )
    }

    static func isValidName(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.".unicodeScalars.contains(scalar)
        }
    }

    // MARK: Versions

    private mutating func parseSupportedVersions(_ node: Node) -> VersionSpecifierSet? {
        guard let text = reader.string(node, "spec.supported_versions") else { return nil }
        do {
            return try VersionSpecifierSet(text)
        } catch {
            reader.error("`spec.supported_versions`: \(error.description)", at: node)
            return nil
        }
    }

    private mutating func parseDefaultVersion(_ node: Node, supported: VersionSpecifierSet?) -> Version? {
        guard let text = reader.string(node, "spec.default_version") else { return nil }
        let version: Version
        do {
            version = try Version(text)
        } catch {
            reader.error("`spec.default_version`: \(error.description)", at: node)
            return nil
        }
        if let supported, !supported.contains(version, includePrereleases: true) {
            reader.error("`spec.default_version`: \(version) is outside supported_versions \"\(supported)\"", at: node)
        }
        return version
    }

    // MARK: Info and Helm

    private mutating func parseInfo(_ node: Node) -> DriverInfo {
        guard let mapping = reader.mapping(node, "spec.info") else { return DriverInfo() }
        let fields = reader.entries(mapping, "spec.info", known: ["description", "authors", "license", "links"])
        var info = DriverInfo()
        info.description = fields["description"].flatMap { reader.string($0, "spec.info.description") }
        info.authors = fields["authors"].map { reader.stringList($0, "spec.info.authors") } ?? []
        info.license = fields["license"].flatMap { reader.string($0, "spec.info.license") }
        if let links = fields["links"] {
            info.links = parseLinks(links)
        }
        return info
    }

    /// `links` as a mapping (`homepage: URL`) or a list of URLs or `{name, url}` entries.
    private mutating func parseLinks(_ node: Node) -> [String: String] {
        if case .mapping = node { return reader.stringMap(node, "spec.info.links") }
        guard let items = reader.sequence(node, "spec.info.links") else { return [:] }
        var links: [String: String] = [:]
        for (index, item) in items.enumerated() {
            let path = "spec.info.links[\(index)]"
            if case .mapping(let mapping) = item {
                let fields = reader.entries(mapping, path, known: ["name", "title", "url"])
                guard let urlNode = fields["url"], let url = reader.string(urlNode, "\(path).url") else {
                    reader.error("`\(path)`: expected a `url`", at: item)
                    continue
                }
                let label = (fields["name"] ?? fields["title"]).flatMap { reader.string($0, "\(path).name") } ?? url
                links[label] = url
            } else if let url = reader.string(item, path) {
                links[url] = url
            }
        }
        return links
    }

    private mutating func parseHelm(_ node: Node) -> [String: HelmChart] {
        guard let mapping = reader.mapping(node, "spec.helm") else { return [:] }
        var charts: [String: HelmChart] = [:]
        for (key, value) in mapping {
            guard let name = reader.string(key, "spec.helm") else { continue }
            let path = "spec.helm.\(name)"
            guard let chart = reader.mapping(value, path) else { continue }
            let fields = reader.entries(chart, path, known: ["location", "version", "repository"])
            guard let locationNode = fields["location"] else {
                reader.error("missing required key `\(path).location`", at: value)
                continue
            }
            guard let location = reader.nonEmptyString(locationNode, "\(path).location") else { continue }
            let version = fields["version"].flatMap { reader.string($0, "\(path).version") }
            charts[name] = HelmChart(location: location, version: version)
        }
        if !mapping.isEmpty, charts["main"] == nil, reader.keyNode("main", in: mapping) == nil {
            reader.error("`spec.helm`: expected a `main` chart", at: node)
        }
        return charts
    }

    // MARK: Components

    private mutating func parseComponents(_ node: Node) -> [ComponentSpec] {
        guard let mapping = reader.mapping(node, "spec.components") else { return [] }
        var components: [ComponentSpec] = []
        for (key, value) in mapping {
            guard let name = reader.nonEmptyString(key, "spec.components") else { continue }
            let path = "spec.components.\(name)"
            guard let body = reader.mapping(value, path) else { continue }
            let fields = reader.entries(body, path, known: ["identifier", "backup", "env_vars", "description"])
            var labels: [String: String] = [:]
            if let identifier = fields["identifier"], let idMap = reader.mapping(identifier, "\(path).identifier") {
                let idFields = reader.entries(idMap, "\(path).identifier", known: ["label"])
                if let labelNode = idFields["label"] {
                    labels = reader.stringMap(labelNode, "\(path).identifier.label")
                    if labels.isEmpty, case .mapping = labelNode {
                        reader.error("`\(path).identifier.label`: expected at least one label", at: labelNode)
                    }
                    for (labelKey, value) in labels.sorted(by: { $0.key < $1.key }) {
                        if let problem = LabelSyntax.problem(key: labelKey) ?? LabelSyntax.problem(value: value) {
                            reader.error("`\(path).identifier.label.\(labelKey)`: \(problem) (Kubernetes label syntax)", at: labelNode)
                        }
                    }
                } else {
                    reader.error("missing required key `\(path).identifier.label`", at: identifier)
                }
            } else if fields["identifier"] == nil {
                reader.error("missing required key `\(path).identifier` (the labels that select the component's pods)", at: key)
            }
            let backup = fields["backup"].flatMap { parseBackup($0, "\(path).backup") }
            let envVars = fields["env_vars"].map { parseEnvVars($0, "\(path).env_vars") } ?? []
            components.append(ComponentSpec(
                name: name, labels: labels, backup: backup, envVars: envVars, declaredAt: reader.location(of: key)
            ))
        }
        return components
    }

    /// `env_vars` as a mapping (`NAME: value`) or a list of `{name, value}` / `{name, valueFrom}`.
    private mutating func parseEnvVars(_ node: Node, _ path: String) -> [EnvVar] {
        if case .mapping(let mapping) = node {
            return mapping.compactMap { key, value in
                reader.string(key, path).map { EnvVar(name: $0, value: reader.value(value, "\(path).\($0)")) }
            }
        }
        guard let items = reader.sequence(node, path) else { return [] }
        var result: [EnvVar] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let mapping = reader.mapping(item, itemPath) else { continue }
            let fields = reader.entries(mapping, itemPath, known: ["name", "value", "valueFrom"])
            guard let nameNode = fields["name"], let name = reader.nonEmptyString(nameNode, "\(itemPath).name") else {
                reader.error("missing required key `\(itemPath).name`", at: item)
                continue
            }
            if let value = fields["value"] {
                result.append(EnvVar(name: name, value: reader.value(value, "\(itemPath).value")))
            } else if let valueFrom = fields["valueFrom"] {
                result.append(EnvVar(name: name, value: .object(["valueFrom": reader.value(valueFrom, "\(itemPath).valueFrom")])))
            } else {
                result.append(EnvVar(name: name, value: .string("")))
            }
        }
        return result
    }

    // MARK: Services

    private mutating func parseServices(_ node: Node, components: Set<String>) -> [ServiceSpec] {
        guard let items = reader.sequence(node, "spec.services") else { return [] }
        var services: [ServiceSpec] = []
        var seen: [String: SourceLocation] = [:]
        for (index, item) in items.enumerated() {
            let path = "spec.services[\(index)]"
            guard let mapping = reader.mapping(item, path) else { continue }
            let fields = reader.entries(mapping, path, known: ["name", "kind", "scope", "port", "component", "description"])
            guard let nameNode = fields["name"] else {
                reader.error("missing required key `\(path).name`", at: item)
                continue
            }
            guard let name = reader.nonEmptyString(nameNode, "\(path).name") else { continue }
            if let first = seen[name] {
                reader.error("`\(path).name`: duplicate service name \"\(name)\" (first declared at \(first))", at: nameNode)
            } else {
                seen[name] = reader.location(of: nameNode)
            }
            let kind = fields["kind"].flatMap { choice($0, "\(path).kind", as: ServiceKind.self) } ?? .http
            let scope = fields["scope"].flatMap { choice($0, "\(path).scope", as: ServiceScope.self) } ?? .internal
            var port = 0
            if let portNode = fields["port"] {
                if let value = reader.int(portNode, "\(path).port") {
                    if (1...65535).contains(value) {
                        port = value
                    } else {
                        reader.error("`\(path).port`: expected a port between 1 and 65535, found \(value)", at: portNode)
                    }
                }
            } else {
                reader.error("missing required key `\(path).port`", at: item)
            }
            let component = fields["component"].flatMap { reader.nonEmptyString($0, "\(path).component") }
            if let component, let componentNode = fields["component"], !components.contains(component) {
                reader.error("`\(path).component`: \(Self.undeclared(component, among: components))", at: componentNode)
            }
            services.append(ServiceSpec(
                name: name, kind: kind, scope: scope, port: port, component: component,
                declaredAt: reader.location(of: item)
            ))
        }
        return services
    }

    static func undeclared(_ name: String, among declared: Set<String>) -> String {
        let list = declared.isEmpty ? "none are declared" : "declared: " + declared.sorted().joined(separator: ", ")
        return "unknown component \"\(name)\" (\(list))"
    }

    private mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, _ path: String, as: Choice.Type
    ) -> Choice? where Choice.RawValue == String {
        guard let text = reader.string(node, path) else { return nil }
        if let value = Choice(rawValue: text) { return value }
        let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        reader.error("`\(path)`: expected one of \(allowed), found \"\(text)\"", at: node)
        return nil
    }

    // MARK: Actions

    private mutating func parseActions(_ node: Node) -> [ActionSpec] {
        guard let items = reader.sequence(node, "spec.actions") else { return [] }
        var actions: [ActionSpec] = []
        var seen: [String: SourceLocation] = [:]
        var cores: [Hook: (name: String, at: SourceLocation)] = [:]
        for (index, item) in items.enumerated() {
            let path = "spec.actions[\(index)]"
            guard let mapping = reader.mapping(item, path) else { continue }
            let fields = reader.entries(mapping, path, known: ["name", "hook", "mode", "description", "location"])
            var missing = false
            for key in ["name", "hook", "mode", "location"] where fields[key] == nil {
                reader.error("missing required key `\(path).\(key)`", at: item)
                missing = true
            }
            let name = fields["name"].flatMap { reader.nonEmptyString($0, "\(path).name") }
            if let name, let nameNode = fields["name"] {
                if let first = seen[name] {
                    reader.error("`\(path).name`: duplicate action name \"\(name)\" (first declared at \(first))", at: nameNode)
                } else {
                    seen[name] = reader.location(of: nameNode)
                }
            }
            let hook = fields["hook"].flatMap { choice($0, "\(path).hook", as: Hook.self) }
            let mode = fields["mode"].flatMap { choice($0, "\(path).mode", as: ActionMode.self) }
            let description = fields["description"].flatMap { reader.string($0, "\(path).description") }
            var location: ActionLocation?
            if let locationNode = fields["location"], let text = reader.string(locationNode, "\(path).location") {
                location = ActionLocation(text)
                if location == nil {
                    reader.error("`\(path).location`: expected \"FILE::FUNCTION\" (e.g. \"actions.py::upgrade\"), found \"\(text)\"", at: locationNode)
                }
            }
            guard !missing, let name, let hook, let mode, let location else { continue }
            let declaredAt = reader.location(of: item)
            if mode == .core {
                if let first = cores[hook] {
                    reader.error("`\(path)`: a second core action \"\(name)\" for hook \(hook.rawValue) (\"\(first.name)\" at \(first.at) is already the core; at most one core action per hook)", at: fields["mode"])
                } else {
                    cores[hook] = (name, declaredAt)
                }
            }
            actions.append(ActionSpec(
                name: name, hook: hook, mode: mode, description: description, location: location, declaredAt: declaredAt,
                locationAt: fields["location"].map { reader.location(of: $0) }
            ))
        }
        return actions
    }

    // MARK: Parameters

    private mutating func parseParameters(_ node: Node) -> [ParameterSpec] {
        guard let items = reader.sequence(node, "spec.parameters") else { return [] }
        var parameters: [ParameterSpec] = []
        var seen: [String: SourceLocation] = [:]
        for (index, item) in items.enumerated() {
            let path = "spec.parameters[\(index)]"
            guard let mapping = reader.mapping(item, path) else { continue }
            let fields = reader.entries(mapping, path, known: ["name", "label", "kind", "values", "default", "required", "description", "secret"])
            guard let nameNode = fields["name"] else {
                reader.error("missing required key `\(path).name`", at: item)
                continue
            }
            guard let name = reader.nonEmptyString(nameNode, "\(path).name") else { continue }
            if let first = seen[name] {
                reader.error("`\(path).name`: duplicate parameter name \"\(name)\" (first declared at \(first))", at: nameNode)
            } else {
                seen[name] = reader.location(of: nameNode)
            }
            let kind: ParameterKind
            if let kindNode = fields["kind"] {
                guard let parsed = choice(kindNode, "\(path).kind", as: ParameterKind.self) else { continue }
                kind = parsed
            } else {
                kind = .string
            }
            var values: [JSONValue] = []
            if let valuesNode = fields["values"] {
                values = (reader.sequence(valuesNode, "\(path).values") ?? [])
                    .enumerated().map { reader.value($1, "\(path).values[\($0)]") }
                if kind != .enum {
                    reader.warning("`\(path).values`: only used by parameters of kind enum", at: valuesNode)
                }
            }
            if kind == .enum, values.isEmpty {
                reader.error("`\(path).values`: a parameter of kind enum needs a non-empty list of values", at: fields["values"] ?? item)
            }
            var defaultValue: JSONValue?
            if let defaultNode = fields["default"], !YAMLReader.isNull(defaultNode) {
                let value = reader.value(defaultNode, "\(path).default")
                if let problem = ParameterSpec.problem(with: value, kind: kind, values: values) {
                    reader.error("`\(path).default`: \(problem)", at: defaultNode)
                } else {
                    defaultValue = value
                }
            }
            let required = fields["required"].flatMap { reader.bool($0, "\(path).required") }
            parameters.append(ParameterSpec(
                name: name,
                label: fields["label"].flatMap { reader.string($0, "\(path).label") },
                kind: kind, values: values, defaultValue: defaultValue,
                isRequired: required ?? (defaultValue == nil && fields["default"] == nil),
                description: fields["description"].flatMap { reader.string($0, "\(path).description") },
                isSecret: fields["secret"].flatMap { reader.bool($0, "\(path).secret") } ?? false,
                declaredAt: reader.location(of: item)
            ))
        }
        return parameters
    }

    // MARK: Container overrides

    private mutating func parseOverrides(_ node: Node, components: Set<String>) -> [ContainerOverride] {
        guard let items = reader.sequence(node, "spec.container_overrides") else { return [] }
        var overrides: [ContainerOverride] = []
        for (index, item) in items.enumerated() {
            let path = "spec.container_overrides[\(index)]"
            guard let mapping = reader.mapping(item, path) else { continue }
            let fields = reader.entries(mapping, path, known: ["component", "container", "command", "args", "description"])
            guard let componentNode = fields["component"] else {
                reader.error("missing required key `\(path).component`", at: item)
                continue
            }
            guard let component = reader.nonEmptyString(componentNode, "\(path).component") else { continue }
            if !components.contains(component) {
                reader.error("`\(path).component`: \(Self.undeclared(component, among: components))", at: componentNode)
            }
            overrides.append(ContainerOverride(
                component: component,
                container: fields["container"].flatMap { reader.string($0, "\(path).container") },
                command: fields["command"].flatMap { reader.bool($0, "\(path).command") } ?? false,
                args: fields["args"].flatMap { reader.bool($0, "\(path).args") } ?? false,
                description: fields["description"].flatMap { reader.string($0, "\(path).description") }
            ))
        }
        return overrides
    }
}
