import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The test double of the Kubernetes API server (Tests/Support/KubeTestServer)
/// started on a free loopback port with TLS and a client certificate made
/// for this test; stopped (SIGTERM, then SIGKILL) when released.
final class KubeTestServerProcess: Sendable {
    static let script = FlowRunnerBinary.repository + "/Tests/Support/KubeTestServer/kube_test_server.py"

    /// The guide's my-app chart as Flux would install it: the server (a
    /// Deployment) and its database (a StatefulSet), labelled as the driver's components.
    static var myAppChart: [String: Any] { ["my-app": [
        ["kind": "Deployment", "name": "{release}-server",
         "labels": ["app.kubernetes.io/name": "my-app", "app.kubernetes.io/instance": "{release}"],
         "image": "{values.image.repository}:{values.image.tag}", "containerName": "my-app",
         "command": "{values.command|}", "args": "{values.args|}", "env": "{values.extraEnv|}"],
        ["kind": "StatefulSet", "name": "{release}-postgresql", "serviceName": "{release}-postgresql",
         "labels": ["app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "{release}"],
         "image": "postgres:16", "containerName": "postgresql"],
    ]] }

    let process: Process
    /// The server's own process (python3 may be started through a shim).
    let pid: Int32
    let directory: String
    let url: String
    /// The kubeconfig `serve` wrote (contexts `kube-test`, certificate, and `kube-test-token`).
    let kubeconfig: String

    init(directory: String, charts: [String: Any] = KubeTestServerProcess.myAppChart) async throws {
        let certificates = directory + "/kube-certs"
        let chartsFile = directory + "/charts.json"
        try JSONSerialization.data(withJSONObject: charts).write(to: URL(fileURLWithPath: chartsFile))
        let ready = directory + "/kube-ready.json"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "serve", "--dir", certificates, "--port", "0", "--ready-file", ready, "--charts", chartsFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let start = ContinuousClock.now
        var info: [String: Any]?
        while info == nil, process.isRunning, ContinuousClock.now - start < .seconds(90) {
            try await Task.sleep(for: .milliseconds(50))
            info = (try? Data(contentsOf: URL(fileURLWithPath: ready))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
        guard let info, let url = info["url"] as? String, let kubeconfig = info["kubeconfig"] as? String else {
            if process.isRunning { process.terminate() }
            throw KubeTestServerError(message: "the test API server did not start (see \(Self.script))")
        }
        self.process = process
        self.pid = (info["pid"] as? Int).map(Int32.init) ?? process.processIdentifier
        self.directory = certificates
        self.url = url
        self.kubeconfig = kubeconfig
    }

    deinit {
        kill(pid, SIGTERM)
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let pid = pid
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { if !processGone(pid) { kill(pid, SIGKILL) } }
    }

    /// A request to the admin API (`/_test/...`), trusting the test CA.
    @discardableResult
    func admin(_ method: HTTPMethod, _ path: String, json: Any? = nil) async throws -> Any {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(directory + "/ca.crt")
        request.tlsConfiguration = tls
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: .fragmentsAllowed)
    }

    /// The objects of `kind` in `namespace`.
    func objects(_ kind: String, namespace: String) async throws -> [[String: Any]] {
        let answer = try await admin(.GET, "/_test/objects?kind=\(kind)&namespace=\(namespace)") as? [String: Any]
        return answer?["items"] as? [[String: Any]] ?? []
    }

    /// The objects of `kind` in `namespace` once `condition` holds of them (or after a generous minute).
    func objects(_ kind: String, namespace: String, waitingUntil condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        let start = ContinuousClock.now
        var found = try await objects(kind, namespace: namespace)
        while !condition(found), ContinuousClock.now - start < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
            found = try await objects(kind, namespace: namespace)
        }
        return found
    }

    /// The API requests logged so far (method, path, verb, ...).
    func requests() async throws -> [[String: Any]] {
        ((try await admin(.GET, "/_test/requests")) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
    }
}

struct KubeTestServerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
