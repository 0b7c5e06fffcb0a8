import FlowModel
import FlowRunner
import Foundation
import Hummingbird
import NIOCore
import Prometheus
import StateStore

/// `GET /metrics`: the Prometheus text exposition format (version 0.0.4)
/// of everything recorded through swift-metrics in this process (the
/// Scheduler's run and step metrics, Hummingbird's request metrics), plus
/// two gauges read from the state store at each scrape, so they hold for
/// every process sharing it:
/// - `flowrunner_queue_depth`: runs queued;
/// - `flowrunner_oldest_queued_age_seconds`: how long the oldest queued run has waited (0 when none).
///
/// Behind the bearer token like every route but `/healthz`.
struct MetricsRoutes: Sendable {
    let engine: Engine
    let registry: PrometheusCollectorRegistry

    func add(to router: Router<BasicRequestContext>) {
        router.get("/metrics") { _, _ in try await scrape() }
    }

    func scrape() async throws -> Response {
        let store = engine.store
        let queued = try await store.runs(matching: RunFilter(status: .queued, limit: 100_000))
        let now = try await store.currentTime()
        registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "flowrunner", metricName: "queue", unitName: "depth", helpText: "Runs queued in the state store.")).set(Double(queued.count))
        let oldest = queued.map(\.createdAt).min().map { max(0, now.timeIntervalSince($0)) } ?? 0
        registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "flowrunner", metricName: "oldest_queued_age", unitName: "seconds", helpText: "How long the oldest queued run has waited.")).set(oldest)
        let bytes = registry.emitToBuffer()
        let headers: HTTPFields = [.contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(bytes.count)]
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
