import DriverSpec
import Testing

@Suite("Secret parameters in specs")
struct SecretParameterSpecTests {
    @Test("secret: true marks a parameter; the default is not secret")
    func parsed() throws {
        let yaml = """
            apiVersion: styrmin.io/v1
            kind: ApplicationDriver
            metadata: {name: s}
            spec:
              version: "1"
              supported_versions: ">=1.0"
              helm:
                main: {location: s, version: 1.0.0}
              components:
                app:
                  identifier: {label: {app: s}}
              parameters:
                - {name: token, kind: string, secret: true}
                - {name: size, kind: integer, default: 1}
            """
        let (spec, diagnostics) = DriverLoader.parse(yaml: yaml, file: "driver.styrmin.yml")
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        #expect(spec?.parameters.map(\.isSecret) == [true, false])
    }
}
