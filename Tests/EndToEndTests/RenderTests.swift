import Foundation
import Testing

/// `flowrunner render` and `drivers validate` on `values.j2.yml`: Jinja2 in
/// the real Python, the guide's filters, errors with the template's line.
@Suite("Helm values: values.j2.yml rendered with Jinja2")
struct RenderTests {
    static let myApp = FlowRunnerBinary.repository + "/actions-examples/my-app"

    @Test("the guide's my-app template renders to the values Helm would receive")
    func myAppValues() async throws {
        let workspace = Workspace()
        let rendered = try await workspace.run(["render", Self.myApp, "--to", "0.3.0", "--deployment", "shop", "--config", "ingress_class=traefik"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        #expect(rendered.stdout == """
            fullnameOverride: styrmin-my-app
            image:
              repository: my-app
              tag: "0.3.0"
            extraEnv: []
            command: []
            args: []
            ingress:
              enabled: true
              className: "traefik"
              hosts:
                - host: "my-app-shop.apps.localhost"
                  paths:
                    - path: /
                      pathType: Prefix
            postgresql:
              enabled: true
              fullnameOverride: styrmin-postgresql
              primary:
                extraEnvVars: []

            """, "\(rendered.stdout)")
        let json = try await workspace.json(["render", Self.myApp, "--to", "0.2.0", "--output", "json"]) as? [String: Any]
        let image = json?["image"] as? [String: Any]
        #expect(image?["tag"] as? String == "0.2.0", "\(json ?? [:])")
        let hosts = (json?["ingress"] as? [String: Any])?["hosts"] as? [[String: Any]]
        #expect(hosts?.first?["host"] as? String == "my-app-preview.apps.localhost")
        #expect(try await workspace.run(["drivers", "validate", Self.myApp]).status == 0)
    }

    @Test("template faults name values.j2.yml and the line, in render and in drivers validate", arguments: [
        ("fullnameOverride: x\nimage:\n  tag: {{ nope }}\n", "values.j2.yml:3", "'nope' is undefined"),
        ("a: 1\nb: {{ app.nothing_here }}\n", "values.j2.yml:2", "has no attribute 'nothing_here'"),
        ("a: 1\n\nb: {% if %}\n", "values.j2.yml:3", "template syntax"),
        ("a: 1\nb: {{ unclosed\n", "values.j2.yml:2", "template syntax"),
        ("a: 1\nargs: {{ components | component_args(\"ghost\") | tojson }}\n", "values.j2.yml:2", "no component 'ghost' (components: database, server)"),
        ("- a\n- b\n", "values.j2.yml", "must be a YAML mapping"),
        ("a: [1, 2\n", "values.j2.yml (rendered)", "YAML"),
        ("a: {{ ''.__class__.__mro__ }}\n", "values.j2.yml:1", "not allowed in a values template"),
        ("a: {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n", "values.j2.yml", "rendering was stopped"),
    ])
    func templateFaults(template: String, place: String, message: String) async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/driver"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try template.write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        let rendered = try await workspace.run(["render", driver])
        #expect(rendered.status == 1, "\(rendered.stdout)\(rendered.stderr)")
        #expect(rendered.stderr.contains(driver + "/" + place), "\(rendered.stderr)")
        #expect(rendered.stderr.contains(message), "\(rendered.stderr)")
        let validated = try await workspace.run(["drivers", "validate", driver])
        #expect(validated.status == 1, "an unrenderable template makes the driver invalid: \(validated.stdout)")
        #expect((validated.stdout + validated.stderr).contains(place) && (validated.stdout + validated.stderr).contains(message),
                "\(validated.stdout)\(validated.stderr)")
    }

    @Test("render refuses a driver without values.j2.yml and bad inputs with exit 2")
    func badInputs() async throws {
        let workspace = Workspace()
        let noValues = try await workspace.run(["render", testbed])
        #expect(noValues.status == 2 && noValues.stderr.contains("has no values.j2.yml"), "\(noValues.stderr)")
        let unknown = try await workspace.run(["render", Self.myApp, "--to", "0.2.0", "--param", "colour=red"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown parameter \"colour\""), "\(unknown.stderr)")
        let noVersion = try await workspace.run(["render", Self.myApp])
        #expect(noVersion.status == 2 && noVersion.stderr.contains("no --to given and driver my-app has no default_version"), "\(noVersion.stderr)")
        let badPair = try await workspace.run(["render", Self.myApp, "--to", "0.2.0", "--config", "novalue"])
        #expect(badPair.status == 2 && badPair.stderr.contains("--config \"novalue\": expected NAME=VALUE"), "\(badPair.stderr)")
    }
}
