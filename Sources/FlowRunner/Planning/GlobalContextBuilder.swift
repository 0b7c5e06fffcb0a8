import DriverSpec
import FlowModel

/// Builds the frozen GlobalContext of a run: what actions (and the values
/// template) see of the cluster, environment, deployment, instance, app,
/// components, parameters and services.
struct GlobalContextBuilder {
    var spec: DriverSpecification
    var deployment: String
    var driverVersion: Int
    var appVersion: String
    var previousVersion: String?
    var parameters: [String: JSONValue]
    /// The deployment's own configuration (`--config`).
    var config: [String: JSONValue]
    /// The deployment's cluster (DESIGN.md "Clusters").
    var clusterName: String
    /// The cluster's configuration: the first layer of `instance.config`, under `config`.
    var clusterConfig: [String: JSONValue]
    var environmentName = "local"
    /// The operator's env values and container overrides (`--env`, `--command`, `--args`).
    var inputs = ComponentInputs()

    func build() -> JSONValue {
        let instanceConfig = clusterConfig.merging(config) { _, given in given }
        // The guide's `<service-name>-<deployment-id>.<fqdn-suffix>`; empty where no suffix is configured.
        let suffix = instanceConfig["fqdn_suffix"]?.stringValue ?? ""
        var components: [String: JSONValue] = [:]
        for component in spec.components {
            // Declared vars with the operator's values, then the operator's own, by name.
            let given = inputs.env[component.name] ?? [:]
            var envVars: [JSONValue] = component.envVars.map { variable in
                .object(["name": .string(variable.name), "value": given[variable.name].map(JSONValue.string) ?? variable.value])
            }
            let declared = Set(component.envVars.map(\.name))
            for name in given.keys.sorted() where !declared.contains(name) {
                envVars.append(.object(["name": .string(name), "value": .string(given[name] ?? "")]))
            }
            var entry: [String: JSONValue] = [
                "name": .string(component.name),
                "labels": .object(component.labels.mapValues(JSONValue.string)),
                "env_vars": .array(envVars),
                "command": .array((inputs.command[component.name] ?? []).map(JSONValue.string)),
                "args": .array((inputs.args[component.name] ?? []).map(JSONValue.string)),
            ]
            if let backup = component.backup {
                var backupValue = backup.options
                backupValue["enabled"] = .bool(backup.enabled)
                backupValue["kind"] = backup.kind.map(JSONValue.string) ?? .null
                entry["backup"] = .object(backupValue)
            } else {
                entry["backup"] = .null
            }
            components[component.name] = .object(entry)
        }
        var services: [String: JSONValue] = [:]
        for service in spec.services {
            services[service.name] = .object([
                "name": .string(service.name),
                "primary_fqdn": .string(suffix.isEmpty ? "" : "\(service.name)-\(deployment).\(suffix)"),
                // Deployment ids are their names here, so the readable name is the same host.
                "human_readable_fqdn": .string(suffix.isEmpty ? "" : "\(service.name)-\(deployment).\(suffix)"),
                "port": .int(service.port),
                "kind": .string(service.kind.rawValue),
                "scope": .string(service.scope.rawValue),
                "component": service.component.map(JSONValue.string) ?? .null,
            ])
        }
        var chart: JSONValue = .null
        if let main = spec.helmCharts["main"] {
            chart = .object(["location": .string(main.location), "version": main.version.map(JSONValue.string) ?? .null])
        }
        return .object([
            "cluster": .object(["name": .string(clusterName), "backend": .string(clusterName)]),
            "environment": .object(["name": .string(environmentName)]),
            "deployment": .object([
                "id": .string(deployment), "name": .string(deployment),
                "driver": .string(spec.name), "driver_version": .int(driverVersion),
            ]),
            "instance": .object([
                "config": .object(instanceConfig), "namespace": .string(deployment), "release": .string(deployment),
            ]),
            "app": .object([
                "name": .string(spec.name), "version": .string(appVersion),
                "previous_version": previousVersion.map(JSONValue.string) ?? .null, "chart": chart,
            ]),
            "components": .object(components),
            "parameters": .object(parameters),
            "services": .object(services),
        ])
    }
}
