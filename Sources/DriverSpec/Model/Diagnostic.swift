/// One finding of the driver loader: an error makes the driver unusable, a
/// warning (an unknown key, say) does not.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How serious a finding is.
    public enum Severity: String, Sendable, Hashable, Codable {
        /// The driver cannot be used until this is fixed.
        case error
        /// The driver works; the author should still look.
        case warning
    }

    /// Error or warning.
    public var severity: Severity
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong and what was expected, in one sentence.
    public var message: String

    /// Creates a finding.
    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `FILE:LINE:COL: error: message`, the form compilers use.
    public var description: String {
        "\(location): \(severity.rawValue): \(message)"
    }
}

extension [Diagnostic] {
    /// The findings of severity `error`.
    public var errors: [Diagnostic] { filter { $0.severity == .error } }
    /// The findings of severity `warning`.
    public var warnings: [Diagnostic] { filter { $0.severity == .warning } }
}
