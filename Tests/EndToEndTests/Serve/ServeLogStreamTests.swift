import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// One Server-Sent Event as the WHATWG format has it.
struct ServerSentEvent: Sendable {
    var id: String?
    var event = "message"
    var data = ""
}

/// Reads `path` as an event stream; stops after `limit` `log` events (the
/// connection is dropped) or when the server ends the stream.
func readEvents(_ serve: ServeProcess, _ path: String, lastEventID: String? = nil, limit: Int = .max) async throws -> [ServerSentEvent] {
    var request = HTTPClientRequest(url: serve.baseURL + path)
    request.headers.add(name: "Accept", value: "text/event-stream")
    if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
    #expect(response.status == .ok)
    #expect(response.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
    var events: [ServerSentEvent] = [], pending = "", logCount = 0
    for try await chunk in response.body {
        pending += String(buffer: chunk)
        while let end = pending.range(of: "\n\n") {
            let block = pending[..<end.lowerBound]
            pending = String(pending[end.upperBound...])
            var event = ServerSentEvent(), hasField = false
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) where !line.hasPrefix(":") {
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let value = parts.count > 1 ? String(parts[1].drop { $0 == " " }) : ""
                switch parts[0] {
                case "id": event.id = value; hasField = true
                case "event": event.event = value; hasField = true
                case "data": event.data += (event.data.isEmpty ? "" : "\n") + value; hasField = true
                default: break
                }
            }
            guard hasField, event.event != "message" || !event.data.isEmpty else { continue }
            events.append(event)
            if event.event == "log" { logCount += 1 }
            if logCount >= limit { return events }
        }
    }
    return events
}

@Suite("Runner service: log lines as Server-Sent Events")
struct ServeLogStreamTests {
    static let chatty = FlowRunnerBinary.repository + "/Tests/EndToEndTests/Fixtures/chatty"

    /// A deployment of the chatty driver and the id of an upgrade that logs `lines` lines, `pauseMS` apart.
    func chattyRun(_ serve: ServeProcess, lines: Int, pauseMS: Int) async throws -> Int {
        let loaded = try await serve.request(.POST, "/v1/drivers", json: ["path": Self.chatty])
        #expect(loaded.status == 201, "\(loaded.text)")
        let created = try await serve.request(.POST, "/v1/deployments", json: [
            "name": "talk", "driver": "chatty", "app_version": "1.0.0", "parameters": ["lines": lines, "pause_ms": pauseMS],
        ])
        _ = try await serve.waitForRun(try #require(created.runID))
        let upgrade = try await serve.request(.POST, "/v1/deployments/talk/hooks/upgrade", json: ["target_version": "1.1.0"])
        return try #require(upgrade.runID, "\(upgrade.text)")
    }

    /// The "line N of M" numbers of log events, in order.
    func lineNumbers(_ events: [ServerSentEvent]) -> [Int] {
        events.filter { $0.event == "log" }.compactMap { event in
            guard let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any],
                  let message = object["message"] as? String, message.hasPrefix("line ") else { return nil }
            return Int(message.dropFirst(5).prefix { $0.isNumber })
        }
    }

    @Test("follow=1 delivers every line once, each with its id, then an end event; afterwards the same URL gives the same lines",
          .timeLimit(.minutes(5)))
    func followToTheEnd() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let run = try await chattyRun(serve, lines: 200, pauseMS: 5)
        let live = try await readEvents(serve, "/v1/runs/\(run)/logs?follow=1")
        #expect(lineNumbers(live) == Array(1...200), "every line once, in order")
        let ids = live.filter { $0.event == "log" }.compactMap { $0.id.flatMap(Int.init) }
        #expect(ids.count == live.filter { $0.event == "log" }.count && ids == ids.sorted() && Set(ids).count == ids.count)
        let end = try #require(live.last)
        #expect(end.event == "end" && end.data.contains("\"succeeded\""), "\(end)")

        let again = try await readEvents(serve, "/v1/runs/\(run)/logs?follow=1")
        #expect(again.filter { $0.event == "log" }.map(\.data) == live.filter { $0.event == "log" }.map(\.data))
        let json = try await serve.request(.GET, "/v1/runs/\(run)/logs").object
        #expect((json["lines"] as? [Any])?.count == ids.count && json["run_status"] as? String == "succeeded")
    }

    @Test("100 forced reconnects with Last-Event-ID while the run logs: no line lost, none doubled", .timeLimit(.minutes(10)))
    func reconnects() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let run = try await chattyRun(serve, lines: 400, pauseMS: 10)
        var received: [ServerSentEvent] = [], lastID: String?, reconnects = 0
        while true {
            let events = try await readEvents(serve, "/v1/runs/\(run)/logs?follow=1", lastEventID: lastID, limit: reconnects < 100 ? 3 : .max)
            received += events.filter { $0.event == "log" }
            lastID = received.last?.id ?? lastID
            if events.last?.event == "end" { break }
            reconnects += 1
            #expect(reconnects < 1_000, "the stream never ended")
            if reconnects >= 1_000 { break }
        }
        #expect(reconnects >= 100)
        #expect(lineNumbers(received) == Array(1...400), "every line exactly once over \(reconnects) reconnects")
        #expect(Set(received.compactMap(\.id)).count == received.count)
    }

    @Test("SIGTERM ends followed streams instead of waiting for their clients: serve exits", .timeLimit(.minutes(5)))
    func shutdownEndsStreams() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace, arguments: ["--grace", "1"])
        let run = try await chattyRun(serve, lines: 100_000, pauseMS: 20)
        let follower = Task { try await readEvents(serve, "/v1/runs/\(run)/logs?follow=1") }
        try await Task.sleep(for: .seconds(1))
        try await serve.stop(SIGTERM)
        #expect(!serve.process.isRunning, "serve still runs a minute after SIGTERM with a follower connected")
        let events = try await follower.value
        #expect(!events.contains { $0.event == "end" }, "the run did not end; the stream just closed")
    }

    @Test("a bad Last-Event-ID or after is a 400 naming it; an unknown run a 404")
    func badResume() async throws {
        let workspace = Workspace()
        let serve = try await ServeProcess(workspace)
        let unknown = try await serve.request(.GET, "/v1/runs/77/logs?follow=1")
        #expect(unknown.status == 404 && unknown.error["code"] as? String == "not_found")
        let run = try await chattyRun(serve, lines: 3, pauseMS: 0)
        let badHeader = try await serve.request(.GET, "/v1/runs/\(run)/logs", headers: ["Last-Event-ID": "yesterday"])
        #expect(badHeader.status == 400 && badHeader.error["field"] as? String == "Last-Event-ID", "\(badHeader.text)")
        let badAfter = try await serve.request(.GET, "/v1/runs/\(run)/logs?after=-4")
        #expect(badAfter.status == 400 && badAfter.error["field"] as? String == "after", "\(badAfter.text)")
    }
}
