import Foundation
import Testing

@Suite("Secret parameters (secret: true) are shown as *** everywhere; the action gets the value")
struct SecretParameterTests {
    @Test("deployments show, runs show (text and JSON) and logs mask the value; the action still receives it")
    func masked() async throws {
        let workspace = Workspace()
        let marker = workspace.exchange + "/token-seen"
        let value = "s3cr3t-Value-42", configValue = "key-5eCret-77"
        try await workspace.run(["drivers", "load", testbed])
        let deploy = try await workspace.run(["deploy", "sec", "--driver", "testbed", "--app-version", "1.0.0",
                                              "--param", "behaviour=secret", "--param", "marker=\(marker)", "--param", "token=\(value)",
                                              "--secret-config", "api_key=\(configValue)", "--config", "region=eu"])
        #expect(deploy.status == 0, "\(deploy.stderr)")
        let upgrade = try await workspace.run(["upgrade", "sec", "--to", "1.1.0"])
        #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        // The action received the real value.
        #expect((try? String(contentsOfFile: marker, encoding: .utf8))?.contains(value) == true)

        let views = [
            try await workspace.run(["deployments", "show", "sec"]),
            try await workspace.run(["deployments", "show", "sec", "--output", "json"]),
            try await workspace.run(["deployments", "list", "--output", "json"]),
            try await workspace.run(["runs", "show", "2", "--output", "json"]),
            try await workspace.run(["runs", "logs", "2"]),
        ]
        for view in views {
            #expect(view.status == 0, "\(view.stderr)")
            #expect(!view.stdout.contains(value), "the secret is shown: \(view.stdout)")
            #expect(!view.stdout.contains(configValue), "the secret config is shown: \(view.stdout)")
            #expect(!upgrade.stdout.contains(value), "the live output shows the secret")
        }
        #expect(views[0].stdout.contains("***"))
        #expect(views[4].stdout.contains("the token is ***"), "\(views[4].stdout)")
        let setup = try await workspace.runShow(1)
        let config = (setup["inputs"] as? [String: Any])?["config"] as? [String: Any]
        #expect(config?["api_key"] as? String == "***")
        #expect(config?["region"] as? String == "eu")
        let report = try await workspace.runShow(2)
        #expect(((report["inputs"] as? [String: Any])?["parameters"] as? [String: Any])?["token"] as? String == "***")
    }

    @Test("a secret that reaches step arguments, job output or an exception is masked in runs show, retry plans and live output; the action still used it",
          arguments: ["tok-9f8e7d6c5b", #"quo"te\back\slash-7"#, "tök-ünï-✓-42"])
    func leakedIntoSteps(value: String) async throws {
        let workspace = Workspace()
        try await workspace.run(["drivers", "load", testbed])
        try await workspace.run(["deploy", "leak", "--driver", "testbed", "--app-version", "1.0.0",
                                 "--param", "behaviour=secret-leak", "--param", "token=\(value)"])
        let upgrade = try await workspace.run(["upgrade", "leak", "--to", "1.1.0"])
        #expect(upgrade.status == 1)
        let views = [
            upgrade,
            try await workspace.run(["runs", "show", "2"]),
            try await workspace.run(["runs", "show", "2", "--output", "json"]),
            try await workspace.run(["runs", "list", "--output", "json"]),
            try await workspace.run(["runs", "retry", "2", "--plan"]),
            try await workspace.run(["runs", "retry", "2", "--plan", "--output", "json"]),
        ]
        // As written, and as JSON writes it inside a string (quotes and backslashes escaped).
        let escaped = String(decoding: try JSONSerialization.data(withJSONObject: [value]), as: UTF8.self).dropFirst(2).dropLast(2)
        for view in views {
            let shown = view.stdout + view.stderr
            #expect(!shown.contains(value) && !shown.contains(escaped), "the secret is shown: \(shown)")
        }
        let report = try await workspace.runShow(2)
        let step = steps(report).first
        #expect((step?["args"] as? [String: Any])?["commands"] as? [String] == ["echo login --token ***"])
        #expect(((report["error"] as? [String: Any])?["message"] as? String)?.contains("login refused for token ***") == true)
        // The job really ran with the value: the cluster holds what the action asked for.
        let shown = try await workspace.json(["deployments", "show", "leak", "--output", "json"]) as? [String: Any]
        let job = ((shown?["cluster"] as? [String: Any])?["jobs"] as? [[String: Any]])?.first
        #expect(job?["commands"] as? [String] == ["echo login --token \(value)"])
    }
}
