public import DriverSpec
public import FlowModel

/// Where Flux fetches a driver's chart from (DESIGN.md "Clusters"): an
/// `OCIRepository` for `oci://`, a `HelmRepository` for `https://`. A bare
/// name (the guide's `location: my-app`) is looked up under the cluster's
/// `chart_repository` config.
public struct ChartSource: Sendable, Hashable {
    /// `OCIRepository` or `HelmRepository`.
    public var kind: String
    /// The repository's URL (`oci://registry/charts/my-app`, `https://charts.example.com`).
    public var url: String
    /// The chart's name inside a Helm repository (nil for OCI, whose URL is the chart).
    public var chart: String?
    /// The chart version, if the driver pins one.
    public var version: String?

    /// The source of `chart` on a cluster whose config is `config`.
    ///
    /// - Throws: ``KubernetesError`` (code `configuration`) for a bare name
    ///   without `chart_repository`, naming both, or a scheme Flux cannot fetch.
    public static func resolve(_ chart: HelmChart, config: [String: JSONValue], cluster: String) throws(KubernetesError) -> ChartSource {
        let location = chart.location
        if location.hasPrefix("oci://") {
            return ChartSource(kind: "OCIRepository", url: location, chart: nil, version: chart.version)
        }
        if location.hasPrefix("https://") || location.hasPrefix("http://") {
            // A Helm repository URL ending in the chart's name: the repository, then the chart.
            guard let slash = location.lastIndex(of: "/"), location.index(after: slash) < location.endIndex,
                  location[..<slash].count > location.prefix(while: { $0 != ":" }).count + 3 else {
                throw KubernetesError(.configuration, "helm.main.location \"\(location)\": expected https://REPOSITORY/CHART")
            }
            return ChartSource(kind: "HelmRepository", url: String(location[..<slash]), chart: String(location[location.index(after: slash)...]),
                               version: chart.version)
        }
        guard !location.contains("://"), !location.isEmpty else {
            throw KubernetesError(.configuration, "helm.main.location \"\(location)\": Flux fetches charts from oci:// or https:// only")
        }
        guard let repository = config["chart_repository"]?.stringValue, !repository.isEmpty else {
            throw KubernetesError(.configuration, "helm.main.location \"\(location)\" is a bare chart name and cluster \(cluster) has no "
                + "chart_repository config to find it in (set one: flowrunner clusters add \(cluster) ... --config chart_repository=oci://REGISTRY/charts)")
        }
        let base = repository.hasSuffix("/") ? String(repository.dropLast()) : repository
        if base.hasPrefix("oci://") {
            return ChartSource(kind: "OCIRepository", url: base + "/" + location, chart: nil, version: chart.version)
        }
        guard base.hasPrefix("https://") || base.hasPrefix("http://") else {
            throw KubernetesError(.configuration, "cluster \(cluster): chart_repository \"\(repository)\": expected oci:// or https://")
        }
        return ChartSource(kind: "HelmRepository", url: base, chart: location, version: chart.version)
    }

    /// The source object (`source.toolkit.fluxcd.io/v1`) named `name` in `namespace`.
    func object(name: String, namespace: String, labels: [String: String]) -> JSONValue {
        var spec: [String: JSONValue] = ["url": .string(url), "interval": "10m"]
        if kind == "OCIRepository" {
            spec["ref"] = version.map { ["tag": .string($0)] } ?? ["tag": "latest"]
        }
        return [
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": .string(kind),
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": .object(labels.mapValues(JSONValue.string))],
            "spec": .object(spec),
        ]
    }

    /// The chart part of a HelmRelease's spec (`chartRef` for OCI, `chart` for a Helm repository).
    func releaseChart(sourceName: String) -> [String: JSONValue] {
        if kind == "OCIRepository" {
            return ["chartRef": ["kind": "OCIRepository", "name": .string(sourceName)]]
        }
        var chartSpec: [String: JSONValue] = ["chart": .string(chart ?? ""), "sourceRef": ["kind": "HelmRepository", "name": .string(sourceName)]]
        if let version { chartSpec["version"] = .string(version) }
        return ["chart": ["spec": .object(chartSpec)]]
    }
}
