import Foundation
public import FlowRunner
public import Hummingbird
public import Logging
import CoreMetrics
import NIOCore
public import Prometheus
public import ServiceLifecycle

/// How the runner service listens.
public struct RunnerServerConfiguration: Sendable {
    /// The address to bind (`127.0.0.1` by default).
    public var host: String
    /// The TCP port (8420 by default; 0 picks a free one, reported to `onListening`).
    public var port: Int
    /// The bearer token every route but `/healthz` requires; nil: none.
    public var token: String?
    /// The largest request body accepted, in bytes (413 past it).
    public var maximumBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8420, token: String? = nil, maximumBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.token = token
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// True for addresses only this machine reaches: an IPv4 literal in
    /// `127.0.0.0/8` (dotted quad, as `inet_pton` reads it), `::1`, or
    /// `localhost`; the only binds allowed without a token. A name that
    /// merely starts with `127.` is not one (DNS could point it anywhere).
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }
}

/// The HTTP API of DESIGN.md ("Outward interfaces", "Runner service") over
/// one ``Engine``, as a Hummingbird 2 application. It records requests
/// (hooks, retries, cancels) and reads reports; the Scheduler service
/// beside it in the same `ServiceGroup` works the runs.
public struct RunnerServer: Sendable {
    /// The engine whose store and clusters the routes use.
    public let engine: Engine
    /// Where and how it listens.
    public let configuration: RunnerServerConfiguration
    /// What `GET /metrics` exposes (see ``bootstrapMetrics()``).
    public let metrics: PrometheusCollectorRegistry

    public init(engine: Engine, configuration: RunnerServerConfiguration, metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.engine = engine
        self.configuration = configuration
        self.metrics = metrics
    }

    /// Makes swift-metrics record into a new Prometheus registry, for
    /// `GET /metrics`. Once per process (swift-metrics' bootstrap traps on a
    /// second call); commands that serve nothing never call it.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// Every route, behind the error shape, the request log and (with a
    /// token) bearer authentication. Every GET route answers HEAD too (RFC 9110
    /// §9.3.2: the same status and headers, no body), as monitors and link checkers expect.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: LogRequestsMiddleware(.info))
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: CrossSiteMiddleware(hasToken: configuration.token != nil))
        let sessions = WebSessions(token: configuration.token)
        if let token = configuration.token { router.add(middleware: BearerTokenMiddleware(token: token, sessions: sessions)) }
        let limit = configuration.maximumBodyBytes
        HealthRoutes(engine: engine).add(to: router)
        DriverRoutes(engine: engine, bodyLimit: limit).add(to: router)
        // One key table for every write on a deployment: a key in flight is in flight on all of them.
        let keys = IdempotencyKeys()
        DeploymentRoutes(engine: engine, keys: keys, bodyLimit: limit).add(to: router)
        BackupRoutes(engine: engine, keys: keys, bodyLimit: limit).add(to: router)
        ClusterRoutes(engine: engine, bodyLimit: limit).add(to: router)
        RunRoutes(engine: engine, bodyLimit: limit).add(to: router)
        LogRoutes(engine: engine).add(to: router)
        MetricsRoutes(engine: engine, registry: metrics).add(to: router)
        OpenAPIRoutes().add(to: router)
        WebRoutes(engine: engine, sessions: sessions, bodyLimit: limit).add(to: router)
        return router
    }

    /// The server as a service for a `ServiceGroup`; `onListening` hears the
    /// bound port once the socket listens (the real one when the port is 0).
    public func service(logger: Logger, onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "flowrunner"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
