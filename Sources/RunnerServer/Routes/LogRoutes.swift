import FlowModel
import FlowRunner
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import StateStore

/// `GET /v1/runs/{id}/logs`: the run's log lines.
///
/// - As JSON (the default): `{"lines": [LINE...], "run_status"}`, every line
///   after `?after=ID`.
/// - As Server-Sent Events (`?follow=1`, or `Accept: text/event-stream`;
///   the WHATWG HTML "Server-sent events" format): one `log` event per line
///   with the line's id as its `id:` and LINE as its data, from the line
///   after `Last-Event-ID` (or `?after=`); a `: heartbeat` comment every
///   ``heartbeat`` of silence; when the run has ended and its last lines are
///   sent, one `end` event `{"status"}` and the stream closes. Without
///   `follow=1` the stream ends after the lines stored so far. The same URL
///   gives the same lines after the run ended.
///
/// LINE is `{"id", "time", "level", "logger", "action", "attempt", "message"}`.
struct LogRoutes: Sendable {
    let engine: Engine
    /// How often a followed run is looked at for new lines, when the store is
    /// not told of them (see ``StateStore/waitForChange(_:ofRun:timeout:)``).
    var pollInterval: Duration = .milliseconds(100)
    /// Silence after which a comment keeps proxies from closing the stream.
    var heartbeat: Duration = .seconds(15)

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/runs/:id/logs") { request, context in try await logs(request, runID: try RunRoutes.runID(context)) }
    }

    static func json(_ line: LogRecord) -> JSONValue {
        [
            "id": .int(Int(line.id)), "time": RunReport.time(line.time), "level": .string(line.level.rawValue),
            "logger": .string(line.logger), "action": line.action.map(JSONValue.string) ?? .null,
            "attempt": .int(line.attempt), "message": .string(line.message),
        ]
    }

    func logs(_ request: Request, runID: RecordID) async throws -> Response {
        guard let run = try await engine.store.run(id: runID) else { throw APIError.notFound("no run \(runID)") }
        let query = request.uri.queryParameters
        let follow = ["1", "true"].contains(query["follow"].map(String.init) ?? "")
        let wantsEvents = follow || (request.headers[.accept]?.contains("text/event-stream") ?? false)
        var after: RecordID = 0
        if let text = query["after"].map(String.init) {
            guard let id = RecordID(text), id >= 0 else {
                throw APIError.badRequest("after must be a log line id (0 or more), found \"\(text)\"", field: "after")
            }
            after = id
        }
        if let text = request.headers[HTTPField.Name("Last-Event-ID")!] {
            guard let id = RecordID(text.trimmingCharacters(in: .whitespaces)), id >= 0 else {
                throw APIError.badRequest("Last-Event-ID must be a log line id, found \"\(text)\"", field: "Last-Event-ID")
            }
            after = max(after, id)
        }
        guard wantsEvents else {
            var lines: [JSONValue] = []
            try await LogFollower(store: engine.store, runID: runID).lines(after: after, follow: false) { lines.append(Self.json($0)) }
            let status = try await engine.store.run(id: runID)?.status ?? run.status
            return JSONResponse.make(["lines": .array(lines), "run_status": .string(status.rawValue)])
        }
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        let stream = EventStream(store: engine.store, runID: runID, after: after, follow: follow,
                                 pollInterval: pollInterval, heartbeat: heartbeat)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await stream.write(to: &writer) })
    }
}

/// One Server-Sent Events stream of a run's log lines (see ``LogRoutes``).
struct EventStream: Sendable {
    let store: any StateStore
    let runID: RecordID
    let after: RecordID
    let follow: Bool
    let pollInterval: Duration
    let heartbeat: Duration

    func write(to writer: inout any ResponseBodyWriter) async throws {
        var last = after
        var quietSince = ContinuousClock.now
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        while !Task.isCancelled {
            // A server shutting down ends its streams (clients resume elsewhere with Last-Event-ID)
            // instead of holding the drain open for as long as a follower stays.
            if Task.isShuttingDownGracefully {
                try await writer.write(ByteBuffer(string: ": the server is stopping; reconnect with Last-Event-ID\n\n"))
                break
            }
            // The status first: a run that had ended then has every line stored.
            let status = try await store.run(id: runID)?.status
            let lines = try await store.logs(runID: runID, afterID: last, limit: 1_000)
            if !lines.isEmpty {
                var text = ""
                for line in lines {
                    text += "id: \(line.id)\nevent: log\ndata: \(LogRoutes.json(line).jsonText)\n\n"
                }
                try await writer.write(ByteBuffer(string: text))
                last = lines.last?.id ?? last
                quietSince = .now
                if lines.count == 1_000 { continue }
            }
            let ended = status.map(\.isFinished) ?? true
            if ended || !follow {
                let end: JSONValue = ["status": status.map { .string($0.rawValue) } ?? .null, "last_id": .int(Int(last))]
                try await writer.write(ByteBuffer(string: "event: end\ndata: \(end.jsonText)\n\n"))
                break
            }
            if ContinuousClock.now - quietSince >= heartbeat {
                try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                quietSince = .now
            }
            // Woken by new lines or the run's end (a store that is told of changes), else polls.
            await store.waitForChange([.logs, .status], ofRun: runID, timeout: pollInterval)
            try Task.checkCancellation()
        }
        try await writer.finish(nil)
    }
}
