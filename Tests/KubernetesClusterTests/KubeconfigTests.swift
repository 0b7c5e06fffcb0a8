import Foundation
@testable import KubernetesCluster
import Testing

@Suite("Kubeconfig: the context's server, CA and credentials, as kubectl reads them")
struct KubeconfigTests {
    let directory: String = {
        let path = NSTemporaryDirectory() + "kubeconfig-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func write(_ text: String, to name: String = "config") throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("data fields are base64, file fields are relative to the kubeconfig's directory, the current context is the default")
    func readsContext() throws {
        _ = try write("CA-PEM", to: "ca.crt")
        _ = try write("  rotating-token\n", to: "token")
        let path = try write("""
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: c
              cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt, tls-server-name: kube.local}
            - name: insecure
              cluster: {server: "https://10.0.0.2", insecure-skip-tls-verify: true}
            users:
            - name: cert
              user: {client-certificate-data: "Q0VSVA==", client-key-data: "S0VZ"}
            - name: file-token
              user: {tokenFile: token}
            contexts:
            - name: dev
              context: {cluster: c, user: cert, namespace: team}
            - name: ops
              context: {cluster: insecure, user: file-token}
            """)
        let kubeconfig = try Kubeconfig.load(path: path)
        let dev = try kubeconfig.access(context: nil)
        #expect(dev.server == "https://10.0.0.1:6443" && dev.namespace == "team" && dev.tlsServerName == "kube.local")
        #expect(dev.certificateAuthority == Array("CA-PEM".utf8))
        #expect(dev.clientCertificate == Array("CERT".utf8) && dev.clientKey == Array("KEY".utf8))
        #expect(dev.token == .none && !dev.insecureSkipTLSVerify && dev.source == "context dev of \(path)")
        let ops = try kubeconfig.access(context: "ops")
        #expect(ops.insecureSkipTLSVerify && ops.certificateAuthority == nil)
        #expect(try ops.token.current() == "rotating-token")
        _ = try write("next-token", to: "token")
        #expect(try ops.token.current() == "next-token", "a token file is read at each use")
    }

    @Test("what cannot be used is refused naming the file and the entry", arguments: [
        ("clusters: [{name: c, cluster: {server: 'ftp://x'}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a", "has no usable server"),
        ("clusters: [{name: c, cluster: {server: 'https://x'}}]\ncontexts: [{name: a, context: {cluster: c}}]", "has no current-context"),
        ("clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '%%%'}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a",
         "`certificate-authority-data` is not base64"),
        ("clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: missing.crt}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a",
         "`certificate-authority`"),
        ("clusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {client-certificate-data: 'Q0VSVA=='}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a",
         "a client certificate or a key without the other"),
        ("clusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a",
         "uses `auth-provider` credentials"),
        ("clusters: [{name: c, cluster: {server: 'https://x'}}]\ncontexts: [{name: a, context: {cluster: c, user: ghost}}]\ncurrent-context: a",
         "names user \"ghost\", which is not in its users"),
        ("- just a list", "expected a mapping"),
    ])
    func refusals(text: String, message: String) throws {
        let path = try write(text)
        #expect {
            try Kubeconfig.load(path: path).access(context: nil)
        } throws: { error in
            let description = "\(error)"
            return (error as? KubernetesError)?.code == .configuration && description.contains(message) && description.contains(path)
        }
    }

    @Test("in-cluster access needs the service host and reads the service account's files")
    func inCluster() throws {
        #expect(throws: KubernetesError.self) { try KubernetesAccess.inCluster(environment: [:], root: directory) }
        _ = try write("CA", to: "ca.crt")
        _ = try write("t0ken\n", to: "token")
        _ = try write("flowrunner\n", to: "namespace")
        let access = try KubernetesAccess.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], root: directory)
        #expect(access.server == "https://[fd00::1]:443" && access.namespace == "flowrunner" && access.certificateAuthority == Array("CA".utf8))
        #expect(try access.token.current() == "t0ken")
    }
}
