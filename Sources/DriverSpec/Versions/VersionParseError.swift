/// The error thrown when a ``Version`` or a ``VersionSpecifierSet`` cannot be parsed.
///
/// `text` is the offending input: the whole version string for ``Version/init(_:)``,
/// or the single offending clause (for example `"=>1.0"`) for
/// ``VersionSpecifierSet/init(_:)``. `reason` says, in plain words, what was expected.
public struct VersionParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of text failed to parse; decides the wording of ``description``.
    enum Subject: Sendable, Equatable {
        case version
        case specifier
    }

    /// The offending input: a version string, or one clause of a specifier set.
    public var text: String

    /// A human-readable explanation of what was expected instead,
    /// e.g. `"expected a version like 1.2.3 or 1.2.3rc1"`.
    public var reason: String

    /// Whether `text` was meant to be a version or a specifier clause.
    var subject: Subject

    /// Creates an error for `text` with the given `reason`.
    init(text: String, reason: String, subject: Subject) {
        self.text = text
        self.reason = reason
        self.subject = subject
    }

    /// A one-line message naming the offending input and the expectation, e.g.
    /// `invalid version "1.x": expected a version like 1.2.3 or 1.2.3rc1` or
    /// `invalid specifier "=>1.0": expected an operator (~=, ==, !=, <=, >=, <, >, ===) followed by a version`.
    public var description: String {
        let noun: String
        switch subject {
        case .version: noun = "version"
        case .specifier: noun = "specifier"
        }
        return "invalid \(noun) \"\(text)\": \(reason)"
    }
}
