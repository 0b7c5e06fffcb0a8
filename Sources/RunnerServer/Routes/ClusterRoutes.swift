import FlowModel
import FlowRunner
import Hummingbird
import StateStore

/// The clusters deployments live on (DESIGN.md "Clusters", "Runner service"):
/// - `GET /v1/clusters`: `{"clusters": [cluster]}`, the embedded `simulated` first;
/// - `POST /v1/clusters` `{"name", "kubernetes": {"kubeconfig"?, "context"?,
///   "in_cluster"?}, "config"?}`: registers a Kubernetes cluster after its
///   kubeconfig (an absolute path on the server) or service account was read
///   as a connection would, 201 with the cluster. A server names its
///   kubeconfig or `in_cluster`: it does not guess one.
struct ClusterRoutes: Sendable {
    let engine: Engine
    let bodyLimit: Int

    var registry: ClusterRegistry { ClusterRegistry(store: engine.store, clusters: engine.clusters) }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/clusters") { _, _ in try await list() }
        router.post("/v1/clusters") { request, _ in try await register(request) }
    }

    func list() async throws -> Response {
        JSONResponse.make(["clusters": .array(try await registry.reports().map(\.json))])
    }

    func register(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: bodyLimit)
        try body.allowOnly(["name", "kubernetes", "config"])
        let name = try body.string("name")
        guard let kubernetes = body.value["kubernetes"]?.objectValue else {
            throw APIError.badRequest("\"kubernetes\" is required: {\"kubeconfig\": PATH, \"context\"?: NAME} or {\"in_cluster\": true}",
                                      field: "kubernetes")
        }
        let access = JSONBody(value: .object(kubernetes))
        do {
            try access.allowOnly(["kubeconfig", "context", "in_cluster"])
        } catch {
            throw APIError.badRequest("kubernetes: \(error.message)", field: "kubernetes.\(error.field ?? "")")
        }
        let inCluster = try access.optionalBool("in_cluster") ?? false
        let kubeconfig = try access.optionalString("kubeconfig"), context = try access.optionalString("context")
        if inCluster, kubeconfig != nil || context != nil {
            throw APIError.badRequest("in_cluster uses the pod's service account: give it without kubeconfig and context", field: "kubernetes.in_cluster")
        }
        if !inCluster {
            guard let kubeconfig, kubeconfig.hasPrefix("/") else {
                throw APIError.badRequest("kubernetes.kubeconfig must be an absolute path on the server (or set in_cluster)", field: "kubernetes.kubeconfig")
            }
        }
        var config: [String: JSONValue] = [:]
        for (key, value) in try body.optionalObject("config") {
            switch value {
            case .string: config[key] = value
            case .int, .double, .bool: config[key] = .string(value.jsonText)
            default: throw APIError.badRequest("config.\(key) must be a string, number or boolean, found \(value.typeName)", field: "config.\(key)")
            }
        }
        let record = try await registry.register(NewCluster(
            name: name, kind: .kubernetes, kubeconfig: inCluster ? nil : kubeconfig, context: context, inCluster: inCluster,
            configJSON: JSONValue.object(config).jsonText))
        guard let report = try await registry.reports().first(where: { $0.name == record.name }) else {
            throw APIError.notFound("cluster \"\(record.name)\" vanished")
        }
        return JSONResponse.make(report.json, status: .created)
    }
}
