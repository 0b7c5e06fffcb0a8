import FlowModel
import Foundation

/// How to reach one Kubernetes API server: its URL, the CA to trust, and the
/// credentials to present (a client certificate, a bearer token, or both),
/// read from a kubeconfig context (``Kubeconfig``) or a pod's service account
/// (``inCluster(environment:root:)``). Credentials live only in memory.
public struct KubernetesAccess: Sendable {
    /// Where a bearer token comes from.
    public enum Token: Sendable, Hashable {
        case none
        /// Given in the kubeconfig.
        case literal(String)
        /// Read from a file at each use (a projected service-account token rotates).
        case file(String)

        /// The token now, or nil.
        ///
        /// - Throws: ``KubernetesError`` (code `configuration`) when the file cannot be read or is empty.
        public func current() throws(KubernetesError) -> String? {
            switch self {
            case .none: return nil
            case .literal(let token):
                try Self.check(token, source: "the kubeconfig's token")
                return token
            case .file(let path):
                let token: String
                do {
                    token = String(decoding: try RegularFile.contents(atPath: path, maximumBytes: 64 << 10), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw KubernetesError(.configuration, "cannot read the token file \(path): \(error)")
                }
                guard !token.isEmpty else { throw KubernetesError(.configuration, "the token file \(path) is empty") }
                try Self.check(token, source: "the token file \(path)")
                return token
            }
        }

        /// Refuses a token that cannot be a bearer token (RFC 6750: visible
        /// ASCII, no spaces), never repeating its text: it is a secret.
        static func check(_ token: String, source: String) throws(KubernetesError) {
            guard token.utf8.count <= 16 << 10, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw KubernetesError(.configuration, "\(source) is not a bearer token (it holds spaces, line breaks or characters outside ASCII)")
            }
        }
    }

    /// The API server, `https://HOST[:PORT]` (a path prefix is kept).
    public var server: String
    /// PEM certificates to trust for the server; nil: the system's roots.
    public var certificateAuthority: [UInt8]?
    /// PEM client certificate and key (both or neither).
    public var clientCertificate: [UInt8]?
    public var clientKey: [UInt8]?
    public var token: Token = .none
    /// Skip verifying the server's certificate (kubeconfig `insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify = false
    /// The name to verify the server's certificate against, when not the URL's host.
    public var tlsServerName: String?
    /// The context's namespace, if any.
    public var namespace: String?
    /// Where this access was read from, for messages (`context X of FILE`).
    public var source = ""

    public init(server: String) {
        self.server = server
    }

    /// The access of a pod's service account, as client-go's in-cluster
    /// config reads it: `KUBERNETES_SERVICE_HOST` and `_PORT`, and the token,
    /// CA and namespace under `root` (`/var/run/secrets/kubernetes.io/serviceaccount`).
    /// The token is re-read at each use, so a rotated token is picked up.
    ///
    /// - Throws: ``KubernetesError`` (code `configuration`) when not in a pod
    ///   (no service host) or the CA or token cannot be read.
    public static func inCluster(
        environment: [String: String], root: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(KubernetesError) -> KubernetesAccess {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw KubernetesError(.configuration, "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        var access = KubernetesAccess(server: "https://" + (host.contains(":") ? "[\(host)]" : host) + ":" + port)
        do {
            access.certificateAuthority = Array(try RegularFile.contents(atPath: root + "/ca.crt", maximumBytes: 1 << 20))
        } catch {
            throw KubernetesError(.configuration, "cannot read the service account's CA \(root)/ca.crt: \(error)")
        }
        access.token = .file(root + "/token")
        _ = try access.token.current()
        access.namespace = (try? RegularFile.contents(atPath: root + "/namespace", maximumBytes: 4096))
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        access.source = "the in-cluster service account"
        return access
    }
}
