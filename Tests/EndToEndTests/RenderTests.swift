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
        ("a: {{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}\n", "values.j2.yml", "nests too deeply"),
        ("a: \"{{ 'x' * (10 ** 7) }}\"\n", "values.j2.yml", "larger than 4 MiB"),
    ])
    func templateFaults(template: String, place: String, message: String) async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/driver"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try template.write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        let rendered = try await workspace.run(["render", driver, "--to", "0.2.0"])
        #expect(rendered.status == 1, "\(rendered.stdout)\(rendered.stderr)")
        #expect(!rendered.stderr.contains("Traceback") && !rendered.stderr.contains("site-packages"), "\(rendered.stderr)")
        #expect(rendered.stderr.contains(driver + "/" + place), "\(rendered.stderr)")
        #expect(rendered.stderr.contains(message), "\(rendered.stderr)")
        let validated = try await workspace.run(["drivers", "validate", driver])
        #expect(validated.status == 1, "an unrenderable template makes the driver invalid: \(validated.stdout)")
        #expect((validated.stdout + validated.stderr).contains(place) && (validated.stdout + validated.stderr).contains(message),
                "\(validated.stdout)\(validated.stderr)")
    }

    /// my-app with a declared env var on its server component.
    static func myAppWithEnv(_ workspace: Workspace) throws -> String {
        let driver = workspace.directory + "/my-app-env"
        try FileManager.default.copyItem(atPath: myApp, toPath: driver)
        var spec = try String(contentsOfFile: driver + "/driver.styrmin.yml", encoding: .utf8)
        spec = spec.replacingOccurrences(of: "          app.kubernetes.io/name: my-app\n",
                                         with: "          app.kubernetes.io/name: my-app\n      env_vars:\n        - name: LOG_LEVEL\n          value: info\n")
        try spec.write(toFile: driver + "/driver.styrmin.yml", atomically: true, encoding: .utf8)
        return driver
    }

    @Test("--env and container overrides reach the filters; clearing renders []; what the driver does not declare is refused")
    func componentInputs() async throws {
        let workspace = Workspace()
        let driver = try Self.myAppWithEnv(workspace)
        let base = ["render", driver, "--to", "0.2.0", "--output", "json"]
        func values(_ extra: [String]) async throws -> [String: Any] {
            try await workspace.json(base + extra) as? [String: Any] ?? [:]
        }
        #expect("\(try await values([])["extraEnv"] ?? "")".contains("info"))
        let given = try await values(["--env", "server.LOG_LEVEL=debug", "--env", "server.EXTRA=1", "--args", #"server=["--workers","2"]"#])
        let env = given["extraEnv"] as? [[String: Any]] ?? []
        #expect(env.map { "\($0["name"] ?? "")=\($0["value"] ?? "")" } == ["LOG_LEVEL=debug", "EXTRA=1"], "\(env)")
        #expect(given["args"] as? [String] == ["--workers", "2"])
        #expect((try await values(["--args", "server=null"]))["args"] as? [String] == [])
        for (extra, message) in [
            (["--env", "database.LOG_LEVEL=x"], "env var LOG_LEVEL is declared for server, not for database"),
            (["--command", #"database=["x"]"#], "component database of driver my-app declares no command override"),
            (["--env", "ghost.X=1"], "no component \"ghost\""),
            (["--args", "server=[1]"], "expected a JSON list of strings"),
            (["--env", "nodot=1"], "expected COMPONENT.NAME=VALUE"),
        ] {
            let refused = try await workspace.run(base + extra)
            #expect(refused.status == 2 && refused.stderr.contains(message), "\(extra): \(refused.stderr)")
        }

        // A deployment keeps its inputs; deployments set changes them for the next hook.
        try await workspace.run(["drivers", "load", driver])
        let deployed = try await workspace.run(["deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--args", #"server=["--a"]"#])
        #expect(deployed.status == 0, "\(deployed.stderr)")
        func components() async throws -> String {
            let shown = try await workspace.json(["deployments", "show", "shop", "--output", "json"]) as? [String: Any]
            return String(decoding: try JSONSerialization.data(withJSONObject: shown?["components"] ?? [:], options: .sortedKeys), as: UTF8.self)
        }
        #expect(try await components() == #"{"server":{"args":["--a"]}}"#)
        let set = try await workspace.run(["deployments", "set", "shop", "--args", "server=null", "--env", "server.LOG_LEVEL=warn"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try await components() == #"{"server":{"env":{"LOG_LEVEL":"warn"}}}"#)
        // Clearing an override is always allowed, even one the driver does not declare (a newer version may have dropped it).
        #expect(try await workspace.run(["deployments", "set", "shop", "--command", "database=null"]).status == 0)
        let badName = try await workspace.run(["deployments", "set", "shop", "--env", "server.A\u{1}B=x"])
        #expect(badName.status == 2 && badName.stderr.contains("expected a name without '=' or control characters"), "\(badName.stderr)")
        let refused = try await workspace.run(["deployments", "set", "shop", "--env", "database.LOG_LEVEL=x"])
        #expect(refused.status == 2 && refused.stderr.contains("declared for server"), "\(refused.stderr)")
        #expect(try await components() == #"{"server":{"env":{"LOG_LEVEL":"warn"}}}"#, "a refused change changes nothing")
    }

    @Test("the Infrahub pattern: the override when set, a literal null when unset (the chart's default applies)")
    func infrahubArgsNull() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/infrahub-style"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try """
            server:
            {%- if components | component_args("server") %}
              args: {{ components | component_args("server") | tojson }}
            {%- else %}
              args: null
            {%- endif %}
              command: {{ components | component_command("server") | tojson }}

            """.write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        let unset = try await workspace.run(["render", driver, "--to", "0.2.0"])
        #expect(unset.stdout == "server:\n  args: null\n  command: []\n", "\(unset.stdout)\(unset.stderr)")
        let set = try await workspace.run(["render", driver, "--to", "0.2.0", "--args", #"server=["--debug"]"#, "--command", #"server=["run"]"#])
        #expect(set.stdout == "server:\n  args: [\"--debug\"]\n  command: [\"run\"]\n", "\(set.stdout)\(set.stderr)")
        let json = try await workspace.json(["render", driver, "--to", "0.2.0", "--output", "json"]) as? [String: Any]
        #expect((json?["server"] as? [String: Any])?["args"] is NSNull, "null is YAML's null: \(json ?? [:])")
        let outside = try await workspace.run(["render", driver, "--to", "3.0.0"])
        #expect(outside.status == 2 && outside.stderr.contains("outside supported_versions"), "\(outside.stderr)")
    }

    @Test("a var declared with valueFrom reaches the chart in Kubernetes' shape; a dry-run whose values do not render fails")
    func valueFromAndDryRunFailure() async throws {
        let workspace = Workspace()
        let queueApp = FlowRunnerBinary.repository + "/actions-examples/queue-app"
        let values = try await workspace.json(["render", queueApp, "--output", "json"]) as? [String: Any]
        let env = (values?["api"] as? [String: Any])?["extraEnv"] as? [[String: Any]] ?? []
        let password = env.first { $0["name"] as? String == "DATABASE_PASSWORD" }
        #expect(password?["valueFrom"] is [String: Any] && password?["value"] == nil, "\(password ?? [:])")

        let driver = workspace.directory + "/quoted"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try "a: \"{{ app.version }}\"\nb: {% if app.version == '0.3.0' %}[1, 2{% else %}1{% endif %}\n"
            .write(toFile: driver + "/values.j2.yml", atomically: true, encoding: .utf8)
        let dry = try await workspace.run(["dry-run", driver, "--hook", "setup", "--to", "0.3.0"])
        #expect(dry.status == 1, "\(dry.stdout)")
        // The engine renders the values before any action: the run fails with the template's fault, and no step ran.
        #expect(dry.stdout.contains("would FAIL: ValuesError: the Helm values for 0.3.0 do not render: values.j2.yml"), "\(dry.stdout)")
        #expect(dry.stdout.contains("Cluster changes:\n  (none)"), "\(dry.stdout)")
    }

    @Test("a template saved with a UTF-8 byte order mark renders and validates")
    func byteOrderMark() async throws {
        let workspace = Workspace()
        let driver = workspace.directory + "/bom"
        try FileManager.default.copyItem(atPath: Self.myApp, toPath: driver)
        try Data([0xEF, 0xBB, 0xBF] + Array("tag: \"{{ app.version }}\"\n".utf8)).write(to: URL(fileURLWithPath: driver + "/values.j2.yml"))
        let rendered = try await workspace.run(["render", driver, "--to", "0.2.0"])
        #expect(rendered.status == 0 && rendered.stdout == "tag: \"0.2.0\"\n", "\(rendered.stdout)\(rendered.stderr)")
        #expect(try await workspace.run(["drivers", "validate", driver]).status == 0)
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
        let badFrom = try await workspace.run(["render", Self.myApp, "--hook", "upgrade", "--from", "yesterday", "--to", "0.2.0"])
        #expect(badFrom.status == 2 && badFrom.stderr.contains("--from \"yesterday\" is not a version"), "\(badFrom.stderr)")
        let badPair = try await workspace.run(["render", Self.myApp, "--to", "0.2.0", "--config", "novalue"])
        #expect(badPair.status == 2 && badPair.stderr.contains("--config \"novalue\": expected NAME=VALUE"), "\(badPair.stderr)")
    }
}
