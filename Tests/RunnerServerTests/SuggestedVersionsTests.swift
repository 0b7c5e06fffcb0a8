import DriverSpec
@testable import RunnerServer
import Testing

@Suite("Web: the upgrade picker suggests only versions the driver supports")
struct SuggestedVersionsTests {
    @Test("versions outside supported_versions and text that is no version are left out; the default is offered")
    func filtered() throws {
        let suggested = WebViews.suggestedVersions(
            known: ["1.1.0", "3.0.0", "not a version", "1.9.9"], defaultVersion: try Version("1.0.0"),
            supported: try VersionSpecifierSet(">=1.0,<2.0"))
        #expect(suggested == ["1.0.0", "1.1.0", "1.9.9"])
    }

    @Test("without supported_versions every known version is offered")
    func unrestricted() {
        #expect(WebViews.suggestedVersions(known: ["2.0", "1.0"], defaultVersion: nil, supported: nil) == ["1.0", "2.0"])
    }
}
