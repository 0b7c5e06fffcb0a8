import DriverSpec
import Testing

@Suite("Component labels follow Kubernetes label syntax: they become label selectors")
struct LabelSyntaxTests {
    func errors(label: String) -> [String] {
        let yaml = """
            apiVersion: styrmin.io/v1
            kind: ApplicationDriver
            metadata: {name: labels}
            spec:
              version: "1"
              components:
                web:
                  identifier: {label: {\(label)}}
            """
        let (_, diagnostics) = DriverLoader.parse(yaml: yaml, file: "driver.styrmin.yml")
        return diagnostics.errors.map(\.description)
    }

    @Test("keys with a DNS prefix and values of letters, digits, '-', '_' and '.' are accepted", arguments: [
        "app.kubernetes.io/name: my-app", "app: web", "tier: \"\"", "example.com/x_y.z: A-1",
    ])
    func accepted(label: String) {
        #expect(errors(label: label).isEmpty, "\(errors(label: label))")
    }

    @Test("a value or key that would change the selector is refused, naming the label", arguments: [
        ("app.kubernetes.io/name: \"my-app,app.kubernetes.io/instance!=zz\"", "a label value is empty or 1 to 63"),
        ("\"app in (a)\": web", "the name part must be"),
        ("\"a/b/c\": web", "at most one '/'"),
        ("\"Example.COM/x\": web", "is not a DNS subdomain"),
        ("app: \"-web\"", "a label value"),
    ])
    func refused(label: String, message: String) {
        let found = errors(label: label)
        #expect(found.contains { $0.contains(message) && $0.contains("spec.components.web.identifier.label") }, "\(found)")
    }
}
