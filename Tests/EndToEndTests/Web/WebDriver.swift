import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A headless Chromium driven over the W3C WebDriver protocol through
/// Debian's `chromedriver` (`chromium-driver`): just what the page tests
/// use (navigate, find, click, type, read, run a script, screenshot).
final class WebDriver: Sendable {
    let process: Process
    let base: String
    let session: String

    static let chromedriver = ProcessInfo.processInfo.environment["CHROMEDRIVER"] ?? "/usr/bin/chromedriver"
    static let chromium = ProcessInfo.processInfo.environment["CHROMIUM"] ?? "/usr/bin/chromium"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts chromedriver on a free port and opens a headless browser session.
    init() async throws {
        let port = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromedriver)
        process.arguments = ["--port=\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        base = "http://127.0.0.1:\(port)"
        var ready = false
        let start = ContinuousClock.now
        while !ready, ContinuousClock.now - start < .seconds(60) {
            let status = try? await Self.call(.GET, base + "/status", nil)
            ready = ((status?["value"] as? [String: Any])?["ready"] as? Bool) == true
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard ready else { process.terminate(); throw Failure(description: "chromedriver did not become ready on port \(port)") }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": [
            "binary": Self.chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"],
        ]]]]
        let answer = try await Self.call(.POST, base + "/session", capabilities)
        guard let id = (answer["value"] as? [String: Any])?["sessionId"] as? String else {
            process.terminate()
            throw Failure(description: "no browser session: \(answer)")
        }
        session = id
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Ends the browser session and chromedriver.
    func quit() async {
        _ = try? await Self.call(.DELETE, "\(base)/session/\(session)", nil)
        process.terminate()
    }

    func open(_ url: String) async throws {
        _ = try await command(.POST, "url", ["url": url])
    }

    /// The current page's HTML as the browser has it now (scripts' changes included).
    func source() async throws -> String {
        try await command(.GET, "source", nil)["value"] as? String ?? ""
    }

    func currentURL() async throws -> String {
        try await command(.GET, "url", nil)["value"] as? String ?? ""
    }

    /// The element the CSS selector finds (throws when none does).
    func find(_ selector: String) async throws -> String {
        let answer = try await command(.POST, "element", ["using": "css selector", "value": selector])
        guard let element = (answer["value"] as? [String: Any])?.values.first as? String else {
            throw Failure(description: "no element \(selector): \(answer)")
        }
        return element
    }

    func click(_ selector: String) async throws {
        _ = try await command(.POST, "element/\(try await find(selector))/click", [:] as [String: Any])
    }

    func type(_ text: String, into selector: String) async throws {
        _ = try await command(.POST, "element/\(try await find(selector))/value", ["text": text])
    }

    func text(_ selector: String) async throws -> String {
        try await command(.GET, "element/\(try await find(selector))/text", nil)["value"] as? String ?? ""
    }

    /// Runs `script` in the page and returns its value.
    func run(_ script: String) async throws -> Any? {
        try await command(.POST, "execute/sync", ["script": script, "args": [] as [Any]])["value"]
    }

    /// Waits (up to `limit`) until the page's source satisfies `condition`; returns that source.
    @discardableResult
    func wait(_ limit: Duration = .seconds(60), until condition: (String) -> Bool) async throws -> String {
        let start = ContinuousClock.now
        var page = try await source()
        while !condition(page), ContinuousClock.now - start < limit {
            try await Task.sleep(for: .milliseconds(200))
            page = try await source()
        }
        return page
    }

    /// Saves a PNG of the viewport to `path`.
    func screenshot(to path: String) async throws {
        guard let encoded = try await command(.GET, "screenshot", nil)["value"] as? String, let data = Data(base64Encoded: encoded) else {
            throw Failure(description: "no screenshot")
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    private func command(_ method: HTTPMethod, _ path: String, _ body: Any?) async throws -> [String: Any] {
        let answer = try await Self.call(method, "\(base)/session/\(session)/\(path)", body)
        if let error = (answer["value"] as? [String: Any])?["error"] as? String {
            throw Failure(description: "\(path): \(error): \((answer["value"] as? [String: Any])?["message"] ?? "")")
        }
        return answer
    }

    private static func call(_ method: HTTPMethod, _ url: String, _ body: Any?) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let data = Data(String(buffer: try await response.body.collect(upTo: 64 << 20)).utf8)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// A TCP port nothing listens on now (bound to 0, read, closed).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw Failure(description: "cannot bind a port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
