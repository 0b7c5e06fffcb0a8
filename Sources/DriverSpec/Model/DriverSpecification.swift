public import FlowModel
/// The typed content of a `driver.styrmin.yml`: everything the "Creating a
/// Driver" guide shows. Produced by ``DriverLoader``; a value of this type has
/// passed the structural checks, and ``DriverLoader`` reports the cross checks
/// (duplicates, references, action files) as diagnostics beside it.
public struct DriverSpecification: Sendable, Hashable {
    /// `apiVersion`, normally `styrmin.io/v1`.
    public var apiVersion: String
    /// `kind`, always `ApplicationDriver` for a valid driver.
    public var kind: String
    /// `metadata.name`: the driver's user-facing identifier.
    public var name: String
    /// `spec.version`: the driver's own version, as written.
    public var version: String
    /// `spec.supported_versions`, the application versions this driver can deploy
    /// (nil when the spec does not restrict them).
    public var supportedVersions: VersionSpecifierSet?
    /// `spec.default_version`, the application version used when none is given.
    public var defaultVersion: Version?
    /// `spec.info`.
    public var info: DriverInfo
    /// `spec.helm`: the charts by name (`main` for the main chart).
    public var helmCharts: [String: HelmChart]
    /// `spec.components`, in declaration order.
    public var components: [ComponentSpec]
    /// `spec.services`, in declaration order.
    public var services: [ServiceSpec]
    /// `spec.actions`, in declaration order.
    public var actions: [ActionSpec]
    /// `spec.parameters`, in declaration order.
    public var parameters: [ParameterSpec]
    /// `spec.container_overrides` (documentation only).
    public var containerOverrides: [ContainerOverride]

    /// The component called `name`, if declared.
    public func component(named name: String) -> ComponentSpec? {
        components.first { $0.name == name }
    }

    /// The parameter called `name`, if declared.
    public func parameter(named name: String) -> ParameterSpec? {
        parameters.first { $0.name == name }
    }

    /// The actions bound to `hook` and `mode`, in declaration order.
    public func actions(for hook: Hook, mode: ActionMode) -> [ActionSpec] {
        actions.filter { $0.hook == hook && $0.mode == mode }
    }
}

/// `spec.info`: descriptive data shown to users.
public struct DriverInfo: Sendable, Hashable, Codable {
    /// `description`.
    public var description: String?
    /// `authors` (a single string is accepted as one author).
    public var authors: [String]
    /// `license`, an SPDX identifier by convention.
    public var license: String?
    /// `links`: named URLs (`homepage: https://...`).
    public var links: [String: String]

    /// An empty info block.
    public init(description: String? = nil, authors: [String] = [], license: String? = nil, links: [String: String] = [:]) {
        self.description = description
        self.authors = authors
        self.license = license
        self.links = links
    }
}

/// A Helm chart reference (`spec.helm.main`).
public struct HelmChart: Sendable, Hashable, Codable {
    /// OCI URL, repository URL or local path of the chart.
    public var location: String
    /// The chart version, as written.
    public var version: String?

    /// Creates a chart reference.
    public init(location: String, version: String?) {
        self.location = location
        self.version = version
    }
}

/// One entry of `spec.components`: a set of workloads found by labels.
public struct ComponentSpec: Sendable, Hashable {
    /// The component's name (its key under `spec.components`).
    public var name: String
    /// `identifier.label`: every pod carrying all these labels belongs to the component.
    public var labels: [String: String]
    /// `backup`, when declared.
    public var backup: BackupSpec?
    /// `env_vars`: environment variables injected into the component, in order.
    public var envVars: [EnvVar]
    /// Where the component is declared.
    public var declaredAt: SourceLocation
}

/// A component's `backup` block.
public struct BackupSpec: Sendable, Hashable, Codable {
    /// `enabled` (defaults to true when a backup block is present).
    public var enabled: Bool
    /// `kind`: the strategy, one of ``strategies``.
    public var kind: String?
    /// Every other key: strategy-specific settings (`database_name`, ...).
    public var options: [String: JSONValue]

    /// The backup strategies (DESIGN.md, "Backup"): a database tool's dump
    /// then volume snapshots, volume snapshots alone (`disk`), or the
    /// driver's own `hook: backup` action.
    public static let strategies: Set<String> = ["postgres", "mariadb", "mongodb", "neo4j", "disk", "action"]
}

/// One environment variable of a component.
public struct EnvVar: Sendable, Hashable, Codable {
    /// Variable name.
    public var name: String
    /// Its value (a string, or structured data such as a `valueFrom` block).
    public var value: JSONValue

    /// Creates an environment variable.
    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }
}

/// Kind of a declared service.
public enum ServiceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case http, https, tcp
}

/// Reachability of a declared service.
public enum ServiceScope: String, Sendable, Hashable, Codable, CaseIterable {
    case `internal`, external
}

/// One entry of `spec.services`.
public struct ServiceSpec: Sendable, Hashable {
    /// Service name; hostnames derive from it.
    public var name: String
    /// `kind`: http (default), https or tcp.
    public var kind: ServiceKind
    /// `scope`: internal (default) or external.
    public var scope: ServiceScope
    /// `port` (1...65535).
    public var port: Int
    /// `component`: the declared component that serves it.
    public var component: String?
    /// Where the service is declared.
    public var declaredAt: SourceLocation
}

/// `location` of an action: `FILE::FUNCTION`, FILE relative to the driver directory.
public struct ActionLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The Python file, relative to the driver directory (e.g. `actions.py`).
    public var file: String
    /// The top-level function in that file.
    public var function: String

    /// Parses `FILE::FUNCTION`; nil when either part is missing.
    public init?(_ text: String) {
        let parts = text.split(separator: "::", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let file = parts[0].trimmingWhitespace, function = parts[1].trimmingWhitespace
        guard !file.isEmpty, !function.isEmpty else { return nil }
        self.file = file
        self.function = function
    }

    /// `FILE::FUNCTION`.
    public var description: String { "\(file)::\(function)" }
}

/// One entry of `spec.actions`.
public struct ActionSpec: Sendable, Hashable {
    /// Action name, unique in the driver.
    public var name: String
    /// The hook that runs it.
    public var hook: Hook
    /// Its mode within the hook.
    public var mode: ActionMode
    /// `description`.
    public var description: String?
    /// `location`: where the flow function lives.
    public var location: ActionLocation
    /// Where the action is declared.
    public var declaredAt: SourceLocation
    /// Where its `location:` value is written (findings about the file or
    /// function point here).
    public var locationAt: SourceLocation? = nil
}

/// Type of a declared parameter.
public enum ParameterKind: String, Sendable, Hashable, Codable, CaseIterable {
    case string, integer, boolean, `enum`
}

/// One entry of `spec.parameters`.
public struct ParameterSpec: Sendable, Hashable {
    /// Parameter name (`{{ parameters.NAME }}`).
    public var name: String
    /// `label` shown in a UI.
    public var label: String?
    /// `kind`.
    public var kind: ParameterKind
    /// `values`: the allowed values of an `enum` parameter.
    public var values: [JSONValue]
    /// `default`, already checked against `kind` and `values`.
    public var defaultValue: JSONValue?
    /// True when a deployment must give a value: `required: true`, or no default.
    public var isRequired: Bool
    /// `description`.
    public var description: String?
    /// `secret: true`: the value is shown as `***` everywhere (reports,
    /// JSON, logs); the action still receives it.
    public var isSecret: Bool
    /// Where the parameter is declared.
    public var declaredAt: SourceLocation

    /// Creates a parameter declaration.
    public init(
        name: String, label: String? = nil, kind: ParameterKind, values: [JSONValue] = [],
        defaultValue: JSONValue? = nil, isRequired: Bool, description: String? = nil, isSecret: Bool = false,
        declaredAt: SourceLocation
    ) {
        self.isSecret = isSecret
        self.name = name
        self.label = label
        self.kind = kind
        self.values = values
        self.defaultValue = defaultValue
        self.isRequired = isRequired
        self.description = description
        self.declaredAt = declaredAt
    }
}

/// One entry of `spec.container_overrides`: a documented override point.
public struct ContainerOverride: Sendable, Hashable, Codable {
    /// The declared component whose container may be overridden.
    public var component: String
    /// The rendered container's name (informational).
    public var container: String?
    /// Whether the entrypoint may be overridden.
    public var command: Bool
    /// Whether the arguments may be overridden.
    public var args: Bool
    /// `description`.
    public var description: String?
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
