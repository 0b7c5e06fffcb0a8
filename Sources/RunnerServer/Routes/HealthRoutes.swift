import FlowModel
import FlowRunner
import Hummingbird

/// `GET /healthz`: 200 `{"status": "ok"}` when the state store answers,
/// 503 `{"status": "unavailable"}` when it does not. Open without a token.
struct HealthRoutes: Sendable {
    let engine: Engine

    func add(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, context in
            do {
                _ = try await engine.store.currentTime()
                return JSONResponse.make(["status": "ok"])
            } catch {
                context.logger.error("health check: the state store does not answer", metadata: ["error": "\(error)"])
                return JSONResponse.make(["status": "unavailable"], status: .serviceUnavailable)
            }
        }
    }
}
