import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A `flowrunner serve` started on a free port of 127.0.0.1 against a
/// workspace's state (its file or database); stopped (SIGKILL) when released.
final class ServeProcess: Sendable {
    let process: Process
    let output: OutputBuffer
    let port: Int
    let token: String?

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts serve and waits (generously) until it prints the port it listens on.
    init(_ workspace: Workspace, arguments: [String] = [], token: String? = nil) async throws {
        var extra = arguments
        if let token {
            let file = workspace.directory + "/token-\(UUID().uuidString)"
            try token.write(toFile: file, atomically: true, encoding: .utf8)
            extra += ["--token-file", file]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FlowRunnerBinary.path)
        process.arguments = ["serve", "--port", "0", "--log-level", "warning"] + extra
        process.environment = FlowRunnerBinary.baseEnvironment.merging(workspace.environment) { $1 }
        let output = OutputBuffer(gathering: process)
        try process.run()
        var port: Int?
        let start = ContinuousClock.now
        while port == nil, process.isRunning, ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
            port = output.text.withLock { Self.listeningPort(in: $0) }
        }
        guard let port else {
            process.terminate()
            throw ServeError(message: "serve did not start listening: \(output.text.withLock { $0 })")
        }
        self.process = process
        self.output = output
        self.port = port
        self.token = token
    }

    static func listeningPort(in text: String) -> Int? {
        guard let range = text.range(of: "listening on http://127.0.0.1:") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    var log: String { output.text.withLock { $0 } }

    /// Sends `signal` and waits (up to a minute) for the process to end.
    func stop(_ signal: Int32 = SIGKILL) async throws {
        kill(process.processIdentifier, signal)
        let start = ContinuousClock.now
        while process.isRunning, ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// One request; the body parsed as JSON when it is JSON.
    func request(_ method: HTTPMethod, _ path: String, json: Any? = nil, headers: [String: String] = [:],
                 token: String?? = .none) async throws -> APIResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let bearer = token ?? self.token { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        let text = String(buffer: body)
        return APIResponse(status: Int(response.status.code), headers: response.headers, text: text)
    }

    /// Waits until run `id` has ended; returns its report.
    func waitForRun(_ id: Int, limit: Duration = .seconds(120)) async throws -> [String: Any] {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            let report = try await request(.GET, "/v1/runs/\(id)").object
            if let status = report["status"] as? String, ["succeeded", "failed", "cancelled"].contains(status) { return report }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServeError(message: "run \(id) did not end within \(limit)")
    }
}

/// Everything a process wrote (stdout and stderr), gathered as it comes.
final class OutputBuffer: Sendable {
    let text = Mutex("")

    /// Gathers what `process` will write; call before it runs.
    init(gathering process: Process) {
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            self.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
    }
}

struct ServeError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// What the server answered.
struct APIResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var text: String

    /// The body parsed as JSON, when it is JSON.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }

    var object: [String: Any] { json as? [String: Any] ?? [:] }
    /// The `error` member of an error body.
    var error: [String: Any] { object["error"] as? [String: Any] ?? [:] }
    var runID: Int? { (object["run"] as? [String: Any])?["id"] as? Int }
}

extension ServeProcess {
    /// A request with a raw body (for bodies that are not JSON).
    func rawRequest(_ method: String, _ path: String, body: String, headers: [String: String] = [:]) async throws -> APIResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Content-Type", value: headers["Content-Type"] ?? "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers where name != "Content-Type" { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let text = String(buffer: try await response.body.collect(upTo: 64 << 20))
        return APIResponse(status: Int(response.status.code), headers: response.headers, text: text)
    }
}

/// Fires every `(deployment, target version, server)` upgrade request at
/// once; returns each with the server's answer, in the order they ended.
func upgradesAtOnce(_ requests: [(String, String, ServeProcess)]) async throws -> [(String, String, APIResponse)] {
    try await withThrowingTaskGroup(of: (String, String, APIResponse).self) { group in
        for (name, version, server) in requests {
            group.addTask {
                (name, version, try await server.request(.POST, "/v1/deployments/\(name)/hooks/upgrade", json: ["target_version": version]))
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}

/// Runs a command to its end (off the cooperative pool), its output gathered.
@discardableResult
func shell(_ arguments: [String], allowFailure: Bool = false, in directory: String? = nil) async throws -> (status: Int32, text: String) {
    let process = Process()
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    let output = OutputBuffer(gathering: process)
    try process.run()
    while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
    try await Task.sleep(for: .milliseconds(100))
    let text = output.text.withLock { $0 }
    if !allowFailure && process.terminationStatus != 0 {
        throw ServeError(message: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text.suffix(3_000))")
    }
    return (process.terminationStatus, text)
}
