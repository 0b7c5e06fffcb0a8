import DriverSpec
import FlowModel
import Foundation

/// A kubeconfig file (`kind: Config`, the format kubectl reads; Kubernetes'
/// `clientcmd/api/v1` types): its clusters, users and contexts, read into
/// the ``KubernetesAccess`` of one context. Only what FlowRunner uses is
/// read; `exec` and `auth-provider` credentials are refused by name.
public struct Kubeconfig: Sendable {
    /// The file's path (relative paths inside it are relative to its directory).
    public var path: String
    /// The parsed document.
    var document: JSONValue

    /// Reads and parses `path`.
    ///
    /// - Throws: ``KubernetesError`` (code `configuration`) naming the file:
    ///   unreadable, not YAML, not a mapping.
    public static func load(path: String) throws(KubernetesError) -> Kubeconfig {
        let text: String
        do {
            let data = try RegularFile.contents(atPath: path, maximumBytes: 4 << 20)
            text = String(decoding: data, as: UTF8.self)
        } catch {
            throw KubernetesError(.configuration, "cannot read kubeconfig \(path): \(error)")
        }
        let document: JSONValue
        do {
            document = try YAMLData.load(text: text, file: path)
        } catch {
            throw KubernetesError(.configuration, "kubeconfig \(error.description)")
        }
        guard case .object = document else {
            throw KubernetesError(.configuration, "kubeconfig \(path): expected a mapping (kind: Config), found \(document.typeName)")
        }
        return Kubeconfig(path: path, document: document)
    }

    /// The kubeconfig and every file it names for credentials
    /// (`certificate-authority`, `client-certificate`, `client-key`,
    /// `tokenFile`, relative ones resolved): what an action must not read.
    /// A kubeconfig that cannot be read gives its own path only.
    public static func credentialFiles(path: String) -> [String] {
        guard let kubeconfig = try? load(path: path) else { return [path] }
        var files = [path]
        for (list, member) in [("clusters", "cluster"), ("users", "user")] {
            for entry in kubeconfig.document[list]?.arrayValue ?? [] {
                for key in ["certificate-authority", "client-certificate", "client-key", "tokenFile"] {
                    if let file = entry[member]?[key]?.stringValue, !file.isEmpty { files.append(kubeconfig.resolve(file)) }
                }
            }
        }
        return files
    }

    /// The names of its contexts, in file order.
    public var contextNames: [String] {
        (document["contexts"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// The `current-context`, if set.
    public var currentContext: String? {
        document["current-context"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// How to reach the API server of `context` (nil: `current-context`).
    ///
    /// - Throws: ``KubernetesError`` (code `configuration`) naming the file
    ///   and the entry: no such context (listing those there are), a context
    ///   naming a missing cluster or user, a cluster without `server`, a
    ///   credential file that cannot be read, data that is not base64, or a
    ///   credential kind FlowRunner does not support (`exec`, `auth-provider`).
    public func access(context name: String?) throws(KubernetesError) -> KubernetesAccess {
        guard let chosen = name ?? currentContext else {
            throw KubernetesError(.configuration, "kubeconfig \(path) has no current-context; name one with --context (contexts: \(list(contextNames)))")
        }
        guard let context = entry("contexts", named: chosen)?["context"] else {
            throw KubernetesError(.configuration, "kubeconfig \(path) has no context \"\(chosen)\" (contexts: \(list(contextNames)))")
        }
        guard let clusterName = context["cluster"]?.stringValue, let cluster = entry("clusters", named: clusterName)?["cluster"] else {
            throw KubernetesError(.configuration, "kubeconfig \(path): context \"\(chosen)\" names cluster \"\(context["cluster"]?.stringValue ?? "")\", which is not in its clusters")
        }
        guard let server = cluster["server"]?.stringValue, let url = URL(string: server), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil else {
            throw KubernetesError(.configuration, "kubeconfig \(path): cluster \"\(clusterName)\" has no usable server (expected https://HOST[:PORT])")
        }
        var access = KubernetesAccess(server: server)
        access.namespace = context["namespace"]?.stringValue
        access.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"] == .bool(true)
        access.tlsServerName = cluster["tls-server-name"]?.stringValue
        access.certificateAuthority = try pem(cluster, "certificate-authority", entry: "cluster \"\(clusterName)\"")
        if let userName = context["user"]?.stringValue, !userName.isEmpty {
            guard let user = entry("users", named: userName)?["user"] else {
                throw KubernetesError(.configuration, "kubeconfig \(path): context \"\(chosen)\" names user \"\(userName)\", which is not in its users")
            }
            let place = "user \"\(userName)\""
            for unsupported in ["exec", "auth-provider"] where user[unsupported] != nil {
                throw KubernetesError(.configuration, "kubeconfig \(path): \(place) uses `\(unsupported)` credentials, which FlowRunner does not run; "
                    + "use a client certificate or a token (a service account's)")
            }
            access.clientCertificate = try pem(user, "client-certificate", entry: place)
            access.clientKey = try pem(user, "client-key", entry: place)
            if (access.clientCertificate == nil) != (access.clientKey == nil) {
                throw KubernetesError(.configuration, "kubeconfig \(path): \(place) has a client certificate or a key without the other")
            }
            if let token = user["token"]?.stringValue, !token.isEmpty {
                access.token = .literal(token)
            } else if let file = user["tokenFile"]?.stringValue, !file.isEmpty {
                access.token = .file(resolve(file))
            }
            do {
                _ = try access.token.current()
            } catch {
                throw KubernetesError(.configuration, "kubeconfig \(path): \(place): \(error.message)")
            }
        }
        access.source = "context \(chosen) of \(path)"
        return access
    }

    /// The member named `name` of the list `list` (`clusters`, `users`, `contexts`).
    func entry(_ list: String, named name: String) -> JSONValue? {
        document[list]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    /// The PEM bytes of `key` (a file path) or `key-data` (base64) of `object`.
    func pem(_ object: JSONValue, _ key: String, entry: String) throws(KubernetesError) -> [UInt8]? {
        if let data = object[key + "-data"]?.stringValue, !data.isEmpty {
            guard let bytes = Data(base64Encoded: data.filter { !$0.isWhitespace }) else {
                throw KubernetesError(.configuration, "kubeconfig \(path): \(entry) `\(key)-data` is not base64")
            }
            return Array(bytes)
        }
        guard let file = object[key]?.stringValue, !file.isEmpty else { return nil }
        do {
            return Array(try RegularFile.contents(atPath: resolve(file), maximumBytes: 1 << 20))
        } catch {
            throw KubernetesError(.configuration, "kubeconfig \(path): \(entry) `\(key)` \(resolve(file)) cannot be read: \(error)")
        }
    }

    /// `file` as kubectl reads it: relative to the kubeconfig's directory.
    func resolve(_ file: String) -> String {
        file.hasPrefix("/") ? file : (path as NSString).deletingLastPathComponent + "/" + file
    }

    func list(_ names: [String]) -> String {
        names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
