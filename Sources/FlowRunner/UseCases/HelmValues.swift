public import ActionHost
public import DriverSpec
public import FlowModel
import Foundation
public import Primitives

/// The Helm values a hook applies: the driver's `values.j2.yml` rendered
/// with Jinja2 against the run's GlobalContext (DESIGN.md "Helm values", the
/// guide's Step 5), and parsed as the YAML mapping Helm takes.
public enum HelmValues {
    /// The template's name in a driver directory.
    public static let file = "values.j2.yml"

    /// Rendered values: the text Helm would receive and its parsed mapping.
    public struct Rendered: Sendable, Hashable {
        public var text: String
        public var values: JSONValue
    }

    /// Why values did not render: the finding, and whether it is the missing
    /// `jinja2` package rather than the template.
    public struct Failure: Error, Sendable, Hashable {
        public var diagnostic: Diagnostic
        public var missingJinja2 = false
    }

    /// The template of a driver, or nil when it has none. A UTF-8 byte
    /// order mark some editors write is not part of the template.
    public static func template(of snapshot: DriverSnapshot) -> String? {
        guard let text = snapshot.files.first(where: { $0.path == file }).flatMap({ String(validating: $0.contents, as: UTF8.self) }) else {
            return nil
        }
        return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
    }

    /// The GlobalContext a hook of `spec` would give the template for a
    /// deployment called `deployment` at `appVersion` (the driver's
    /// `default_version` when nil), with `parameters` (defaults filled in)
    /// and `config` over the instance defaults, and the operator's component inputs.
    ///
    /// - Throws: ``EngineError/Code/refused`` for a version outside
    ///   `supported_versions`, an unknown parameter, a value of the wrong
    ///   kind or a component input the driver does not allow, naming it.
    public static func context(
        spec: DriverSpecification, deployment: String, appVersion: String?, previousVersion: String? = nil,
        parameters: [String: ParameterInput], config: [String: JSONValue], components: ComponentInputs = ComponentInputs(),
        cluster: String = SimulatedClusterProvider.clusterName, clusterConfig: [String: JSONValue] = SimulatedClusterProvider.configuration
    ) throws(EngineError) -> JSONValue {
        if let appVersion { try Engine.checkVersion(appVersion, spec: spec, field: "to") }
        // The version upgraded from may be one the driver no longer installs, but it must be a version.
        if let previousVersion, (try? Version(previousVersion)) == nil {
            throw EngineError(.badInput, "--from \"\(previousVersion)\" is not a version (PEP 440, such as 1.2.0)", field: "from")
        }
        let resolved = try ParameterResolver.resolve(parameters, spec: spec)
        let components = try components.checked(against: spec)
        return GlobalContextBuilder(
            spec: spec, deployment: deployment, driverVersion: 0, appVersion: appVersion ?? spec.defaultVersion?.description ?? "",
            previousVersion: previousVersion, parameters: resolved, config: config, clusterName: cluster, clusterConfig: clusterConfig,
            inputs: components
        ).build()
    }

    /// How values are rendered: the interpreter and the caches.
    public struct Renderer: Sendable {
        /// The interpreter (nil: `$FLOWRUNNER_PYTHON`, else `python3` on `PATH`).
        public var python: String?
        /// Where a shim's real interpreter is remembered (nil: asked every time).
        public var interpreterCacheFile: String?
        /// An engine-owned directory keeping compiled templates (nil: none).
        public var cacheDirectory: String?
        /// A long-lived renderer (a server's), used instead of one process per render.
        public var worker: ValuesRenderWorker?
        /// For a process that works one run (the CLI), whose ``worker`` was
        /// started early (``prewarm()``): the worker stops
        /// after each render and at ``release()``, so that its interpreter
        /// (about 20 MiB) is not resident beside the action's host.
        public var stopsWorkerAfterUse = false

        /// A renderer on `python` with the given caches.
        public init(python: String? = nil, interpreterCacheFile: String? = nil, cacheDirectory: String? = nil) {
            self.python = python
            self.interpreterCacheFile = interpreterCacheFile
            self.cacheDirectory = cacheDirectory
        }

        /// Renders `template` with `context`, and parses the result as a mapping.
        ///
        /// - Returns: the values, or the ``Failure`` whose diagnostic stops them (at
        ///   `values.j2.yml:LINE` where the line is known): a template syntax
        ///   error, an undefined name, a filter naming an unknown component, a
        ///   result that is not YAML or not a mapping, or no `jinja2` package
        ///   (its message names the install command).
        /// - Throws: ``EngineError/Code/failed`` when no interpreter can run the renderer.
        public func render(_ template: String, context: JSONValue) async throws(EngineError) -> Result<Rendered, Failure> {
            let outcome: ValuesTemplate.Outcome
            do {
                if let worker {
                    outcome = try await worker.render(template, file: file, context: context, cacheDirectory: cacheDirectory,
                                                      thenStop: stopsWorkerAfterUse)
                } else {
                    let helper = try HelperPython(python: python, cacheFile: interpreterCacheFile)
                    outcome = try await ValuesTemplate.render(
                        template, file: file, context: context, interpreter: helper.interpreter, pythonDirectory: helper.pythonDirectory,
                        cacheDirectory: cacheDirectory)
                }
            } catch {
                throw EngineError(.failed, "cannot render \(file): \(error.reason)")
            }
            switch outcome {
            case .failed(let message, let line, let missingJinja2):
                return .failure(Failure(diagnostic: Diagnostic(.error, at: SourceLocation(file: file, line: line ?? 0, column: 0), message),
                                        missingJinja2: missingJinja2))
            case .rendered(let text):
                return HelmValues.parse(text)
            }
        }

        /// Starts the ``worker`` now, so that its interpreter and Jinja2 load
        /// while the engine prepares the run (nothing without a worker).
        public func prewarm() async {
            await worker?.prewarm()
        }

        /// Stops the ``worker`` when ``stopsWorkerAfterUse``: called once a run
        /// knows it renders nothing more before its actions start.
        public func release() async {
            if stopsWorkerAfterUse { await worker?.stopWhenIdle() }
        }
    }

    /// Renders `template` with `context` on `python`, keeping compiled
    /// templates in `cacheDirectory`; see ``Renderer/render(_:context:)``.
    public static func render(
        _ template: String, context: JSONValue, python: String? = nil, cacheDirectory: String? = nil
    ) async throws(EngineError) -> Result<Rendered, Failure> {
        try await Renderer(python: python, cacheDirectory: cacheDirectory).render(template, context: context)
    }

    /// The rendered `text` as Helm's values: a YAML mapping.
    static func parse(_ text: String) -> Result<Rendered, Failure> {
        let values: JSONValue
        do {
            values = try YAMLData.load(text: text, file: file + " (rendered)")
        } catch {
            return .failure(Failure(diagnostic: error))
        }
        guard case .object = values else {
            let found = values == .null ? "nothing" : values.typeName
            return .failure(Failure(diagnostic: Diagnostic(.error, at: SourceLocation(file: file),
                                                           "the rendered values must be a YAML mapping (Helm's values), found \(found)")))
        }
        return .success(Rendered(text: text, values: values))
    }

    /// `context` with `app.version` set to `appVersion`: the context a hook
    /// gives the template when an action upgrades to another version than the run's target.
    static func context(_ context: JSONValue, atVersion appVersion: String) -> JSONValue {
        guard case .object(var members) = context, case .object(var app)? = members["app"] else { return context }
        app["version"] = .string(appVersion)
        members["app"] = .object(app)
        return .object(members)
    }

    /// What changed from `before` to `after`, one line per leaf (paths as
    /// `a.b[0].c`, a key holding `.`, `[`, `]`, `"` or a space quoted as
    /// `a["x.y/z"]`, values as JSON): `+ path: value`, `- path: value`,
    /// `~ path: old → new`, in path order; nothing when they are equal.
    public static func diff(before: JSONValue, after: JSONValue) -> [String] {
        let old = leaves(before, path: ""), new = leaves(after, path: "")
        var lines: [String] = []
        for path in Set(old.keys).union(new.keys).sorted() {
            switch (old[path], new[path]) {
            case (nil, let added?): lines.append("+ \(path): \(added.jsonText)")
            case (let removed?, nil): lines.append("- \(path): \(removed.jsonText)")
            case (let was?, let now?) where was != now: lines.append("~ \(path): \(was.jsonText) → \(now.jsonText)")
            default: break
            }
        }
        return lines
    }

    /// Every leaf of `values` as `path: value` lines (paths as in
    /// ``diff(before:after:)``, values as JSON), in path order.
    public static func lines(_ values: JSONValue) -> [String] {
        leaves(values, path: "").sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.jsonText)" }
    }

    /// Every leaf (a scalar, or an empty array or object) of `value` by its path.
    static func leaves(_ value: JSONValue, path: String) -> [String: JSONValue] {
        switch value {
        case .object(let members) where !members.isEmpty:
            return members.reduce(into: [:]) { found, member in
                let plain = !member.key.isEmpty && !member.key.contains(where: { ".[]\" ".contains($0) })
                let step = plain ? (path.isEmpty ? member.key : path + "." + member.key) : path + "[" + JSONValue.string(member.key).jsonText + "]"
                found.merge(leaves(member.value, path: step)) { first, _ in first }
            }
        case .array(let items) where !items.isEmpty:
            return items.enumerated().reduce(into: [:]) { found, item in
                found.merge(leaves(item.element, path: path + "[\(item.offset)]")) { first, _ in first }
            }
        default:
            return [path.isEmpty ? "(values)" : path: value]
        }
    }

}
