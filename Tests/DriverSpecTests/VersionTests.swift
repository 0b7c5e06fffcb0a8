// Tests for DriverSpec's Version and VersionSpecifierSet.
//
// Every expectation for PEP 440 behaviour (parsing/normalisation, ordering, specifier
// containment) was generated and checked with Python `packaging` 26.x (26.2) as the
// oracle: `packaging.version.Version` and `packaging.specifiers.SpecifierSet`.
// For containment with `prereleases: nil` the oracle call was
// `SpecifierSet(s).contains(Version(v), prereleases=bool(SpecifierSet(s).prereleases))`,
// which is the documented contract of `VersionSpecifierSet.contains` (see there).
// Extension syntax (whitespace-separated clauses, `*`, `^`, `~`, bare versions) was
// checked through its packaging equivalent (e.g. `^1.2.3` as `>=1.2.3,<2.0.0`).
// Cases marked "extension" (semver-only pre-releases, error wording, descriptions)
// have no packaging equivalent and are specified by this module's documentation.

import DriverSpec
import Testing

@Suite("Version parsing and normalisation")
struct VersionParsingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: String
        /// Normalised description, or nil when the input must be rejected.
        let normalized: String?
        let release: [Int]
        let epoch: Int
        let prerelease: Bool

        init(_ input: String, _ normalized: String, release: [Int], epoch: Int, prerelease: Bool) {
            self.input = input
            self.normalized = normalized
            self.release = release
            self.epoch = epoch
            self.prerelease = prerelease
        }

        private init(rejecting input: String) {
            self.input = input
            self.normalized = nil
            self.release = []
            self.epoch = 0
            self.prerelease = false
        }

        static func invalid(_ input: String) -> Case { Case(rejecting: input) }

        var testDescription: String {
            "\"\(input)\" → \(normalized.map { "\"\($0)\"" } ?? "invalid")"
        }
    }

    static let cases: [Case] = [
        // packaging 26.x oracle
        .init("1.0", "1.0", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0.0", "1.0.0", release: [1, 0, 0], epoch: 0, prerelease: false),
        .init("1", "1", release: [1], epoch: 0, prerelease: false),
        .init("v1.2.3", "1.2.3", release: [1, 2, 3], epoch: 0, prerelease: false),
        .init("V1.2.3", "1.2.3", release: [1, 2, 3], epoch: 0, prerelease: false),
        .init(" 1.2.3\t", "1.2.3", release: [1, 2, 3], epoch: 0, prerelease: false),
        .init("1!2.0", "1!2.0", release: [2, 0], epoch: 1, prerelease: false),
        .init("0!1.0", "1.0", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0a1", "1.0a1", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0alpha1", "1.0a1", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0-beta.2", "1.0b2", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0_c3", "1.0rc3", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0pre", "1.0rc0", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0preview2", "1.0rc2", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0RC1", "1.0rc1", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0.post1", "1.0.post1", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0-1", "1.0.post1", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0rev2", "1.0.post2", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0r", "1.0.post0", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0-post-3", "1.0.post3", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0.dev", "1.0.dev0", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0-dev3", "1.0.dev3", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0DEV_4", "1.0.dev4", release: [1, 0], epoch: 0, prerelease: true),
        .init("1!2.0.post1.dev3+abc.5", "1!2.0.post1.dev3+abc.5", release: [2, 0], epoch: 1, prerelease: true),
        .init("1.0+ubuntu-1_2", "1.0+ubuntu.1.2", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.0+ABC.007", "1.0+abc.7", release: [1, 0], epoch: 0, prerelease: false),
        .init("01.002.0003", "1.2.3", release: [1, 2, 3], epoch: 0, prerelease: false),
        .init("1.0.0-rc.1", "1.0.0rc1", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("1.0.0-alpha", "1.0.0a0", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("1.0.0-beta.2", "1.0.0b2", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("1.0.0+build.5", "1.0.0+build.5", release: [1, 0, 0], epoch: 0, prerelease: false),
        .init("v1.0.0-rc.1+build.5", "1.0.0rc1+build.5", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("2.0a1.post2.dev3", "2.0a1.post2.dev3", release: [2, 0], epoch: 0, prerelease: true),
        .init("1.0a.post1", "1.0a0.post1", release: [1, 0], epoch: 0, prerelease: true),
        .init("1.0.post.", "1.0.post0", release: [1, 0], epoch: 0, prerelease: false),
        .init("1.2.3.4.5.6", "1.2.3.4.5.6", release: [1, 2, 3, 4, 5, 6], epoch: 0, prerelease: false),
        .invalid(""),
        .invalid("   "),
        .invalid("1.x"),
        .invalid("1..0"),
        .invalid(".1"),
        .invalid("1.0."),
        .invalid("1.0+"),
        .invalid("1.0+abc..d"),
        .invalid("vv1.0"),
        .invalid("1.0 a1"),
        .invalid("1.0a1a2"),
        .invalid("1.0-"),
        .invalid("1.0+abc def"),
        .invalid("1!"),
        .invalid("!1.0"),
        .invalid("latest"),
        .invalid("1.0.0-"),
        .invalid("1.0.0-alpha..1"),
        .invalid("1.0+é"),
        .invalid("-1.0"),
        .invalid("1.0.0-rc.1_2"),
        // extension: semver pre-releases that PEP 440 cannot spell (packaging rejects these)
        .init("1.0.0-x.7.z.92", "1.0.0-x.7.z.92", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("2.0.0-SNAPSHOT", "2.0.0-snapshot", release: [2, 0, 0], epoch: 0, prerelease: true),
        .init("1.0.0-alpha.beta", "1.0.0-alpha.beta", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("v1.0.0-rc.1.2+Build.5", "1.0.0-rc.1.2+build.5", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("1.0.0-0.3.07", "1.0.0-0.3.7", release: [1, 0, 0], epoch: 0, prerelease: true),
        .init("1.0-x-y", "1.0-x-y", release: [1, 0], epoch: 0, prerelease: true),
        // extension: numbers must fit in Int
        .invalid("99999999999999999999"),
    ]

    @Test("parses and normalises", arguments: cases)
    func parses(_ c: Case) throws {
        guard let normalized = c.normalized else {
            let error = #expect(throws: VersionParseError.self) { try Version(c.input) }
            #expect(error?.text == c.input)
            #expect(error?.description.hasPrefix("invalid version \"\(c.input)\": ") == true)
            return
        }
        let version = try Version(c.input)
        #expect(version.description == normalized)
        #expect(version.release == c.release)
        #expect(version.epoch == c.epoch)
        #expect(version.isPrerelease == c.prerelease)
        // The normalised form parses back to an equal version with the same spelling.
        let reparsed = try Version(normalized)
        #expect(reparsed == version)
        #expect(reparsed.description == normalized)
    }

    @Test("error reason for text that is not a version")
    func errorReason() {
        let error = #expect(throws: VersionParseError.self) { try Version("1.x") }
        #expect(error?.reason == "expected a version like 1.2.3 or 1.2.3rc1")
        #expect(error?.description == "invalid version \"1.x\": expected a version like 1.2.3 or 1.2.3rc1")
    }
}

@Suite("Version ordering and equality")
struct VersionOrderingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let lhs: String
        let rhs: String
        /// -1 when lhs < rhs, 0 when equal, 1 when lhs > rhs.
        let order: Int

        init(_ lhs: String, _ rhs: String, _ order: Int) {
            self.lhs = lhs
            self.rhs = rhs
            self.order = order
        }

        var testDescription: String {
            "\(lhs) \(order < 0 ? "<" : order == 0 ? "==" : ">") \(rhs)"
        }
    }

    static let cases: [Case] = [
        // packaging 26.x oracle
        .init("1.0.dev0", "1.0a1.dev0", -1),
        .init("1.0a1.dev0", "1.0a1", -1),
        .init("1.0a1", "1.0b1", -1),
        .init("1.0b1", "1.0rc1", -1),
        .init("1.0rc1", "1.0", -1),
        .init("1.0", "1.0.post1.dev0", -1),
        .init("1.0.post1.dev0", "1.0.post1", -1),
        .init("1.0", "1.0.0", 0),
        .init("1", "1.0.0.0", 0),
        .init("1.0a1", "1.0.0a1", 0),
        .init("1.0", "1.0+abc", -1),
        .init("1.0+abc", "1.0+1", -1),
        .init("1.0+1.2", "1.0+1.10", -1),
        .init("1.0+abc", "1.0+abc.1", -1),
        .init("1.0+ABC", "1.0+abc", 0),
        .init("1.0+01", "1.0+1", 0),
        .init("1.0+abc", "1.0+abd", -1),
        .init("1!0.1", "2.0", 1),
        .init("1.0.post1", "1.0.1.dev0", -1),
        .init("1.0a1", "1.0a1.post1", -1),
        .init("1.0rc1.post1", "1.0", -1),
        .init("1.10", "1.9", 1),
        .init("1.0.0.0.1", "1.0", 1),
        .init("1.0.dev1", "1.0a0", -1),
        .init("1.0.post1+local", "1.0.post1", 1),
        .init("1.0a1+local", "1.0a2", -1),
        .init("1.0-rc.1", "1.0rc1", 0),
        .init("v1.0", "1.0", 0),
        .init("1.0.dev2", "1.0.dev10", -1),
        .init("0.9.9", "1.0.dev0", -1),
        .init("1.0a1", "1.0a1.post1.dev1", -1),
        .init("2.0", "1!1.0", -1),
        // extension: semver-only pre-releases sort after every PEP 440 pre-release of
        // the same release, before the release, and among themselves by semver rules.
        .init("1.0.0rc9", "1.0.0-snapshot", -1),
        .init("1.0.0rc1.post5", "1.0.0-snapshot", -1),
        .init("1.0.0-snapshot", "1.0.0", -1),
        .init("1.0.0.dev5", "1.0.0-snapshot", -1),
        .init("1.0.0-snapshot", "1.0-snapshot", 0),
        .init("1.0.0-x.7", "1.0.0-x.7.z", -1),
        .init("1.0.0-x.9", "1.0.0-x.10", -1),
        .init("1.0.0-0.3.7", "1.0.0-x.7", -1),
        .init("1.0.0-alpha.beta", "1.0.0-beta.x", -1),
        .init("0.9.0", "1.0.0-snapshot", -1),
        .init("1.0.0-snapshot+b1", "1.0.0-snapshot", 1),
    ]

    @Test("orders like PEP 440", arguments: cases)
    func orders(_ c: Case) throws {
        let lhs = try Version(c.lhs)
        let rhs = try Version(c.rhs)
        #expect((lhs < rhs) == (c.order < 0))
        #expect((lhs == rhs) == (c.order == 0))
        #expect((lhs > rhs) == (c.order > 0))
        #expect((rhs < lhs) == (c.order > 0))
        if c.order == 0 {
            #expect(lhs.hashValue == rhs.hashValue)
        }
    }

    @Test("zero padding: equal versions collapse in a Set")
    func zeroPaddingInSet() throws {
        let versions = try ["1", "1.0", "1.0.0", "v1.0.0.0", "01.00"].map { try Version($0) }
        #expect(Set(versions).count == 1)
        #expect(try Version("1.0.0").release == [1, 0, 0])
        #expect(try Version("1.0.0").description == "1.0.0")
    }

    @Test("sorting a shuffled list gives PEP 440 order")
    func sorting() throws {
        let ordered = [
            "1.0.dev0", "1.0a1.dev0", "1.0a1", "1.0b1", "1.0rc1", "1.0", "1.0+abc", "1.0+1",
            "1.0.post1.dev0", "1.0.post1", "1.1.dev1", "1!0.1",
        ]
        let versions = try ordered.reversed().map { try Version($0) }.sorted()
        #expect(versions.map(\.description) == ordered)
    }
}

@Suite("Specifier containment")
struct SpecifierContainmentTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let specifier: String
        let version: String
        let prereleases: Bool?
        let expected: Bool

        init(_ specifier: String, _ version: String, prereleases: Bool?, _ expected: Bool) {
            self.specifier = specifier
            self.version = version
            self.prereleases = prereleases
            self.expected = expected
        }

        var testDescription: String {
            let mode = prereleases.map { ", includePrereleases: \($0)" } ?? ""
            return "\"\(specifier)\".contains(\(version)\(mode)) == \(expected)"
        }
    }

    static let cases: [Case] = [
        // packaging 26.x oracle (extension syntax through its packaging equivalent)
        .init(">=0.1,<1.0", "0.5", prereleases: nil, true),
        .init(">=0.1,<1.0", "1.0", prereleases: nil, false),
        .init(">=0.1,<1.0", "0.1", prereleases: nil, true),
        .init(">=0.1,<1.0", "0.0.9", prereleases: nil, false),
        .init(">=1.0 <2.0", "1.5", prereleases: nil, true),
        .init(">=1.0 <2.0", "2.0", prereleases: nil, false),
        .init(">= 1.0, != 1.5 ,<2.0", "1.5", prereleases: nil, false),
        .init("", "1.0", prereleases: nil, true),
        .init("", "1.0a1", prereleases: nil, false),
        .init("", "1.0a1", prereleases: true, true),
        .init("*", "3.0", prereleases: nil, true),
        .init(">=1.0", "2.0a1", prereleases: nil, false),
        .init(">=1.0", "2.0a1", prereleases: true, true),
        .init(">=1.0", "2.0a1", prereleases: false, false),
        .init(">=1.0a1", "2.0a1", prereleases: nil, true),
        .init(">=1.0a1", "2.0a1", prereleases: false, false),
        .init(">=1.0", "2.0.dev1", prereleases: nil, false),
        .init("!=1.0a1", "2.0a1", prereleases: nil, false),
        .init("==1.*", "1.5a1", prereleases: nil, false),
        .init("<2.0rc1", "2.0b1", prereleases: nil, true),
        .init(">1.0b1", "1.0rc1", prereleases: nil, true),
        .init("<=1.0", "1.0.post1.dev1", prereleases: nil, false),
        .init("<2.0", "1.9", prereleases: nil, true),
        .init("<2.0", "2.0a1", prereleases: true, false),
        .init("<2.0", "2.0.dev1", prereleases: true, false),
        .init("<2.0", "1.9a1", prereleases: true, true),
        .init("<2.0", "2.0+local", prereleases: nil, false),
        .init("<2.0", "1.9+local", prereleases: nil, true),
        .init("<2.0.post1", "2.0.post1.dev0", prereleases: true, false),
        .init(">1.0", "1.0.post1", prereleases: nil, false),
        .init(">1.0", "1.0.1", prereleases: nil, true),
        .init(">1.0.post1", "1.0.post2", prereleases: nil, true),
        .init(">1.0", "1.0+local", prereleases: nil, false),
        .init(">1.0a1", "1.0a1+local", prereleases: true, false),
        .init(">1.0a1", "1.0a1.post1", prereleases: true, false),
        .init(">1.0", "1.1+local", prereleases: nil, true),
        .init("~=1.4", "1.9", prereleases: nil, true),
        .init("~=1.4", "2.0", prereleases: nil, false),
        .init("~=1.4", "1.3", prereleases: nil, false),
        .init("~=1.4.5", "1.4.9", prereleases: nil, true),
        .init("~=1.4.5", "1.5", prereleases: nil, false),
        .init("~=1.4.5", "1.4.4", prereleases: nil, false),
        .init("~=1.4.5a4", "1.4.5", prereleases: nil, true),
        .init("~=1.4.5a4", "1.4.5a5", prereleases: nil, true),
        .init("~=2.2.post3", "2.3", prereleases: nil, true),
        .init("~=2.2.post3", "2.2", prereleases: nil, false),
        .init("~=1.4", "1.4.0+local", prereleases: nil, true),
        .init("~=1!1.4", "1!1.5", prereleases: nil, true),
        .init("~=1!1.4", "1.5", prereleases: nil, false),
        .init("==1.2.*", "1.2.0", prereleases: nil, true),
        .init("==1.2.*", "1.2.9", prereleases: nil, true),
        .init("==1.2.*", "1.3", prereleases: nil, false),
        .init("==1.2.*", "1.2", prereleases: nil, true),
        .init("==1.2.*", "1.2rc1", prereleases: true, true),
        .init("==1.2.*", "1.2.post1", prereleases: nil, true),
        .init("==1.2.*", "1.2+local", prereleases: nil, true),
        .init("==1.2.*", "1.20", prereleases: nil, false),
        .init("!=1.2.*", "1.3", prereleases: nil, true),
        .init("!=1.2.*", "1.2.5", prereleases: nil, false),
        .init("==1.*", "1", prereleases: nil, true),
        .init("==1.0.0.*", "1.0", prereleases: nil, true),
        .init("==1.0.*", "1.0.0.dev1", prereleases: true, true),
        .init("==1.0", "1.0+local", prereleases: nil, true),
        .init("==1.0", "1.0.0", prereleases: nil, true),
        .init("==1.0+local", "1.0", prereleases: nil, false),
        .init("==1.0+local", "1.0+LOCAL", prereleases: nil, true),
        .init("==1.0+local", "1.0+other", prereleases: nil, false),
        .init("!=1.0", "1.0+local", prereleases: nil, false),
        .init("!=1.0+local", "1.0", prereleases: nil, true),
        .init("<=1.0", "1.0+local", prereleases: nil, true),
        .init(">=1.0", "1.0+local", prereleases: nil, true),
        .init("===1.0", "1.0", prereleases: nil, true),
        .init("===1.0", "1.0.0", prereleases: nil, false),
        .init("===1.0.0RC1", "1.0.0-rc.1", prereleases: nil, true),
        .init(">=1.0.0-rc.1", "1.0.0-rc.2", prereleases: nil, true),
        .init(">=1.0", "1!0.5", prereleases: nil, true),
        .init(">=v1.0", "1.0", prereleases: nil, true),
        .init("==1.0.0-beta.2", "1.0.0b2", prereleases: nil, true),
        .init("==1.0.0", "1.0.0+build.5", prereleases: nil, true),
        .init("^1.2.3", "1.9.9", prereleases: nil, true),
        .init("^1.2.3", "2.0.0", prereleases: nil, false),
        .init("^1.2.3", "1.2.2", prereleases: nil, false),
        .init("^1.2.3", "2.0.0a1", prereleases: true, false),
        .init("^0.2.3", "0.2.9", prereleases: nil, true),
        .init("^0.2.3", "0.3.0", prereleases: nil, false),
        .init("^0.0.3", "0.0.3", prereleases: nil, true),
        .init("^0.0.3", "0.0.4", prereleases: nil, false),
        .init("^0.0", "0.0.9", prereleases: nil, true),
        .init("^1.2.3-beta.2", "1.2.3", prereleases: nil, true),
        .init("^1.2.3", "1.5+local", prereleases: nil, true),
        .init("~1.2.3", "1.2.9", prereleases: nil, true),
        .init("~1.2.3", "1.3.0", prereleases: nil, false),
        .init("~1", "1.9", prereleases: nil, true),
        .init("~1", "2.0", prereleases: nil, false),
        .init("1.2.3", "1.2.3", prereleases: nil, true),
        .init("1.2.3", "1.2.4", prereleases: nil, false),
        .init("v1.2.*", "1.2.7", prereleases: nil, true),
        .init("1.0", "1.0+local", prereleases: nil, true),
        // extension: semver-only pre-releases (no packaging equivalent)
        .init(">=1.0.0-snapshot", "1.0.0", prereleases: nil, true),
        .init(">=1.0.0-snapshot", "1.0.0-snapshot.2", prereleases: nil, true),
        .init("<1.0.0", "1.0.0-snapshot", prereleases: true, false),
        .init(">=1.0", "2.0.0-snapshot", prereleases: nil, false),
        .init(">=1.0", "2.0.0-snapshot", prereleases: true, true),
    ]

    @Test("contains", arguments: cases)
    func contains(_ c: Case) throws {
        let set = try VersionSpecifierSet(c.specifier)
        let version = try Version(c.version)
        #expect(set.contains(version, includePrereleases: c.prereleases) == c.expected)
        if c.prereleases == nil {
            #expect(set.contains(version) == c.expected)
        }
    }
}

@Suite("Specifier syntax")
struct SpecifierSyntaxTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let input: String
        /// The normalised description, when the input is valid.
        let description: String?
        /// For invalid input: the clause the error names and the reason it gives.
        let errorText: String?
        let errorReason: String?

        static func valid(_ input: String, _ description: String) -> Case {
            Case(input: input, description: description, errorText: nil, errorReason: nil)
        }

        static func invalid(_ input: String, clause: String, _ reason: String) -> Case {
            Case(input: input, description: nil, errorText: clause, errorReason: reason)
        }

        var testDescription: String {
            "\"\(input)\" → \(description.map { "\"\($0)\"" } ?? "error: \(errorReason ?? "")")"
        }
    }

    static let operatorReason = "expected an operator (~=, ==, !=, <=, >=, <, >, ===) followed by a version"

    // Validity of every PEP 440 spelling below agrees with packaging 26.x; the
    // description (input order, normalised versions) and error wording are this
    // module's own (extension).
    static let cases: [Case] = [
        .valid(">=0.1,<1.0", ">=0.1,<1.0"),
        .valid(">= 01.0 , < 2.0RC1", ">=1.0,<2.0rc1"),
        .valid(">=1.0 <2.0", ">=1.0,<2.0"),
        .valid("~=1.4.5a4, !=1.4.6", "~=1.4.5a4,!=1.4.6"),
        .valid("==1.2.*", "==1.2.*"),
        .valid("1.2.*", "==1.2.*"),
        .valid("1.2.3", "==1.2.3"),
        .valid("==1.0+Local-1", "==1.0+local.1"),
        .valid("===Foo-1", "===Foo-1"),
        .valid("^v1.2.3", "^1.2.3"),
        .valid("~1.2", "~1.2"),
        .valid("", ""),
        .valid("*", ""),
        .valid(",>=1.0,,", ">=1.0"),
        .valid(">=1.0,>=1.0.0", ">=1.0"),
        .valid("==1.0.0-rc.1", "==1.0.0rc1"),
        .valid(">=2.0.0-SNAPSHOT", ">=2.0.0-snapshot"),
        .invalid("=>1.0", clause: "=>1.0", operatorReason),
        .invalid(">=1.0,latest", clause: "latest", operatorReason),
        .invalid("~=1", clause: "~=1", "~= needs a version with at least two release components, like ~=1.4"),
        .invalid(">=1.0+local", clause: ">=1.0+local", "a local version label (+...) is only allowed with == and !="),
        .invalid("^1.0+abc", clause: "^1.0+abc", "a local version label (+...) is only allowed with == and !="),
        .invalid(">=1.*", clause: ">=1.*", "a wildcard (.*) is only allowed with == and !="),
        .invalid("~=1.*", clause: "~=1.*", "a wildcard (.*) is only allowed with == and !="),
        .invalid("==1.0a1.*", clause: "==1.0a1.*", "a wildcard (.*) may only follow a release such as 1.2"),
        .invalid(">=1.0,<", clause: "<", "expected a version after \"<\""),
        .invalid(">=1.x", clause: ">=1.x", "expected a version like 1.2.3 or 1.2.3rc1 after \">=\""),
        .invalid(">= 1.x", clause: ">= 1.x", "expected a version like 1.2.3 or 1.2.3rc1 after \">=\""),
        .invalid("1.0 a1", clause: "a1", operatorReason),
    ]

    @Test("parses, normalises and rejects", arguments: cases)
    func syntax(_ c: Case) throws {
        if let description = c.description {
            let set = try VersionSpecifierSet(c.input)
            #expect(set.description == description)
            #expect(try VersionSpecifierSet(description) == set)
        } else {
            let error = #expect(throws: VersionParseError.self) { try VersionSpecifierSet(c.input) }
            #expect(error?.text == c.errorText)
            #expect(error?.reason == c.errorReason)
        }
    }

    @Test("error description names the clause and the expectation")
    func errorDescription() {
        let error = #expect(throws: VersionParseError.self) { try VersionSpecifierSet("=>1.0") }
        #expect(
            error?.description
                == "invalid specifier \"=>1.0\": expected an operator (~=, ==, !=, <=, >=, <, >, ===) followed by a version"
        )
    }

    @Test("set equality ignores order, duplicates and zero padding")
    func equality() throws {
        let a = try VersionSpecifierSet(">=1.0,<2.0")
        let b = try VersionSpecifierSet("<2.0.0, >=1.0 >=1")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(try VersionSpecifierSet("~=1.0") != VersionSpecifierSet("~=1.0.0"))
        #expect(try VersionSpecifierSet("^0.0") != VersionSpecifierSet("^0.0.0"))
        #expect(try VersionSpecifierSet("==1.*") != VersionSpecifierSet("==1.0.*"))
        #expect(try VersionSpecifierSet("1.0") == VersionSpecifierSet("==1.0.0"))
    }
}
