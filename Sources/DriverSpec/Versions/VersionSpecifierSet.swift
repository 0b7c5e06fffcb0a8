/// A PEP 440 specifier set such as ">=0.1,<1.0".
///
/// Syntax: clauses separated by commas and/or whitespace (`">=1.0,<2.0"`,
/// `">=1.0 <2.0"`); whitespace may also sit between an operator and its version
/// (`">= 1.0"`). The empty string and `"*"` allow any version.
///
/// PEP 440 operators, with PEP 440 / Python `packaging` semantics:
/// - `==V`, `!=V`: equality; without a local label in `V`, the local label of the
///   candidate is ignored (`==1.0` matches `1.0+abc`). `==V.*` / `!=V.*` match by
///   release prefix (`==1.2.*` matches `1.2`, `1.2.5`, `1.2rc1`, `1.2.post1`).
/// - `<=V`, `>=V`: ordered comparison of the candidate's public version.
/// - `<V`: excludes pre-releases of `V` unless `V` is itself a pre-release.
/// - `>V`: excludes post-releases of `V` unless `V` is itself a post-release, and
///   local versions of `V`.
/// - `~=V.N`: `>=V.N,==V.*` (suffixes of `V.N` are ignored for the prefix); needs at
///   least two release components.
/// - `===text`: case-insensitive string equality with the candidate's normalised form.
///
/// Local labels (`+abc`) are only accepted with `==` and `!=`; wildcards (`.*`) only
/// with `==` and `!=` and only after a plain release.
///
/// Extensions beyond PEP 440:
/// - `^V` (npm caret): `>=V` and below the next version that bumps the left-most
///   non-zero release component: `^1.2.3` is `>=1.2.3,<2`, `^0.2.3` is
///   `>=0.2.3,<0.3`, `^0.0.3` is `>=0.0.3,<0.0.4`.
/// - `~V` (npm tilde): `>=V` and below the next minor (or next major when only a major
///   is given): `~1.2.3` is `>=1.2.3,<1.3`, `~1` is `>=1,<2`.
///   Both upper bounds behave like PEP 440 `<`, so pre-releases of the bound are excluded.
/// - a bare version `V` means `==V` (and `V.*` means `==V.*`).
/// - versions may use the semver spellings accepted by ``Version``.
///
/// Two sets are equal when they contain the same clauses, regardless of order and
/// duplicates; clauses compare by meaning (`==1.0` equals `==1.0.0`).
public struct VersionSpecifierSet: Sendable, Hashable, CustomStringConvertible {
    /// The parsed clauses, in input order, without duplicates.
    let clauses: [VersionClause]

    /// Parses a specifier set; see the type documentation for the syntax.
    ///
    /// - Throws: ``VersionParseError`` whose `text` is the offending clause (for
    ///   example `"=>1.0"`) and whose `reason` says what was expected.
    public init(_ text: String) throws(VersionParseError) {
        var clauses: [VersionClause] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            let scalars = Array(part.unicodeScalars)
            var index = 0
            while true {
                while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
                if index == scalars.count { break }
                let start = index
                var op: VersionClause.Operator?
                for candidate in VersionClause.Operator.parseOrder {
                    let token = Array(candidate.rawValue.unicodeScalars)
                    if index + token.count <= scalars.count,
                        scalars[index..<(index + token.count)].elementsEqual(token)
                    {
                        op = candidate
                        index += token.count
                        while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
                        break
                    }
                }
                let versionStart = index
                while index < scalars.count, !scalars[index].properties.isWhitespace { index += 1 }
                let clauseText = String(String.UnicodeScalarView(scalars[start..<index]))
                let versionText = String(String.UnicodeScalarView(scalars[versionStart..<index]))
                if let clause = try VersionClause.parse(op: op, version: versionText, text: clauseText),
                    !clauses.contains(clause)
                {
                    clauses.append(clause)
                }
            }
        }
        self.clauses = clauses
    }

    /// The normalised set: each clause as operator plus normalised version
    /// (e.g. `>=1.0rc1`, `==1.2.*`, `^1.2.3`), in input order, duplicates dropped,
    /// joined by `","`. Bare versions are written with `==`. Empty when any version
    /// is allowed.
    public var description: String {
        clauses.map(\.description).joined(separator: ",")
    }

    /// Whether `version` satisfies every clause of the set.
    ///
    /// Pre-release handling is packaging-compatible: pre-releases (versions with a
    /// pre-release or development segment) are excluded unless `includePrereleases` is
    /// `true`, or (when `nil`) unless a clause of the set itself names a pre-release
    /// version with an operator other than `!=` (wildcards never count). With `false`
    /// pre-releases are always excluded. An empty set contains every version that the
    /// pre-release rule lets through.
    public func contains(_ version: Version, includePrereleases: Bool? = nil) -> Bool {
        let allowPrereleases = includePrereleases ?? clauses.contains(where: \.impliesPrereleases)
        if version.isPrerelease && !allowPrereleases { return false }
        return clauses.allSatisfy { $0.matches(version) }
    }

    /// Equal when both sets hold the same clauses, ignoring order and duplicates.
    public static func == (lhs: VersionSpecifierSet, rhs: VersionSpecifierSet) -> Bool {
        Set(lhs.clauses) == Set(rhs.clauses)
    }

    /// Hashes the set of clauses, consistently with ``==``.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(Set(clauses))
    }
}

/// One clause of a ``VersionSpecifierSet``.
struct VersionClause: Sendable, Hashable, CustomStringConvertible {
    /// A clause operator, spelled as in the input.
    enum Operator: String, Sendable, Hashable {
        case arbitrary = "==="
        case compatible = "~="
        case equal = "=="
        case notEqual = "!="
        case lessOrEqual = "<="
        case greaterOrEqual = ">="
        case less = "<"
        case greater = ">"
        case caret = "^"
        case tilde = "~"

        /// Longest tokens first, so that `===` wins over `==` and `~=` over `~`.
        static let parseOrder: [Operator] = [
            .arbitrary, .compatible, .equal, .notEqual, .lessOrEqual, .greaterOrEqual,
            .less, .greater, .caret, .tilde,
        ]
    }

    /// What the operator is applied to.
    enum Target: Sendable, Hashable {
        /// A version (`==`, `!=`, `<=`, `>=`, `<`, `>`).
        case version(Version)
        /// A release prefix for `==V.*` / `!=V.*`.
        case prefix(epoch: Int, release: [Int])
        /// `~=`: the lower bound and the release prefix the candidate must share.
        case compatible(Version, prefix: [Int])
        /// `^` and `~`: inclusive lower bound, exclusive upper bound.
        case range(Version, upper: Version)
        /// `===`: literal text.
        case text(String)
    }

    /// The reason for an unknown or missing operator.
    static let operatorExpectation =
        "expected an operator (~=, ==, !=, <=, >=, <, >, ===) followed by a version"

    let op: Operator
    let target: Target

    /// Creates a clause from already-validated parts.
    init(op: Operator, target: Target) {
        self.op = op
        self.target = target
    }

    /// Parses one clause. `op` is the operator found at the start (if any), `version`
    /// the text after it, `text` the whole clause for error messages. Returns `nil`
    /// for the match-anything clause `*`; a bare version means `==`.
    static func parse(op: Operator?, version: String, text: String) throws(VersionParseError) -> VersionClause? {
        func failure(_ reason: String) -> VersionParseError {
            VersionParseError(text: text, reason: reason, subject: .specifier)
        }
        let after = op.map { " after \"\($0.rawValue)\"" } ?? ""

        let op = op ?? .equal
        if after.isEmpty {
            if version == "*" { return nil }
            let first = version.unicodeScalars.first
            let startsLikeVersion =
                first.map { ($0 >= "0" && $0 <= "9") || $0 == "v" || $0 == "V" } ?? false
            guard startsLikeVersion else { throw failure(Self.operatorExpectation) }
        }
        if version.isEmpty {
            throw failure("expected a version\(after)")
        }

        if op == .arbitrary {
            if version.unicodeScalars.contains(where: { $0 == ";" || $0 == ")" }) {
                throw failure("expected a version without \";\" or \")\"\(after)")
            }
            return VersionClause(op: op, target: .text(version))
        }

        func parse(_ text: String) throws(VersionParseError) -> Version {
            do {
                return try Version(text)
            } catch {
                if error.reason == VersionSyntax.expectation {
                    throw failure(VersionSyntax.expectation + after)
                }
                throw failure(error.reason)
            }
        }

        if version.hasSuffix(".*") {
            guard op == .equal || op == .notEqual else {
                throw failure("a wildcard (.*) is only allowed with == and !=")
            }
            let base = try parse(String(version.dropLast(2)))
            guard base.pre == nil, base.post == nil, base.dev == nil, base.local == nil else {
                throw failure("a wildcard (.*) may only follow a release such as 1.2")
            }
            return VersionClause(op: op, target: .prefix(epoch: base.epoch, release: base.release))
        }

        let parsed = try parse(version)
        if parsed.local != nil && op != .equal && op != .notEqual {
            throw failure("a local version label (+...) is only allowed with == and !=")
        }
        switch op {
        case .compatible:
            guard parsed.release.count >= 2 else {
                throw failure("~= needs a version with at least two release components, like ~=1.4")
            }
            return VersionClause(op: op, target: .compatible(parsed, prefix: Array(parsed.release.dropLast())))
        case .caret, .tilde:
            let bump: Int
            if op == .caret {
                bump = parsed.release.firstIndex(where: { $0 != 0 }) ?? (parsed.release.count - 1)
            } else {
                bump = parsed.release.count >= 2 ? 1 : 0
            }
            var upper = Array(parsed.release[..<bump])
            let (next, overflow) = parsed.release[bump].addingReportingOverflow(1)
            if overflow { throw failure("the version is too large to compute an upper bound") }
            upper.append(next)
            let bound = Version(epoch: parsed.epoch, release: upper, pre: nil, post: nil, dev: nil, local: nil)
            return VersionClause(op: op, target: .range(parsed, upper: bound))
        default:
            return VersionClause(op: op, target: .version(parsed))
        }
    }

    /// Normalised spelling: operator followed by the normalised version.
    var description: String {
        switch target {
        case .version(let version), .compatible(let version, _), .range(let version, _):
            return op.rawValue + version.description
        case .prefix(let epoch, let release):
            let epochText = epoch == 0 ? "" : "\(epoch)!"
            return op.rawValue + epochText + release.map { String($0) }.joined(separator: ".") + ".*"
        case .text(let text):
            return op.rawValue + text
        }
    }

    /// Whether this clause lets pre-releases in by default, as `packaging` 26 decides:
    /// any operator but `!=` whose version is a pre-release; never for wildcards.
    var impliesPrereleases: Bool {
        if op == .notEqual { return false }
        switch target {
        case .version(let version), .compatible(let version, _), .range(let version, _):
            return version.isPrerelease
        case .prefix:
            return false
        case .text(let text):
            return (try? Version(text))?.isPrerelease ?? false
        }
    }

    /// Whether `candidate`'s release, zero-padded, starts with `release` (same epoch).
    static func hasPrefix(_ candidate: Version, epoch: Int, release: [Int]) -> Bool {
        guard candidate.epoch == epoch else { return false }
        for (index, component) in release.enumerated() {
            let value = index < candidate.release.count ? candidate.release[index] : 0
            if value != component { return false }
        }
        return true
    }

    /// PEP 440 exclusive `<`: below `bound`, but not a pre-release of a non-pre-release `bound`.
    static func isBelow(_ candidate: Version, _ bound: Version) -> Bool {
        guard candidate < bound else { return false }
        if !bound.isPrerelease && candidate.isPrerelease {
            let earliest = Version(
                epoch: bound.epoch, release: bound.release, pre: bound.pre, post: bound.post, dev: 0, local: nil)
            return candidate < earliest
        }
        return true
    }

    /// Whether `candidate` satisfies this clause (pre-release policy aside).
    func matches(_ candidate: Version) -> Bool {
        switch target {
        case .prefix(let epoch, let release):
            let found = Self.hasPrefix(candidate, epoch: epoch, release: release)
            return op == .notEqual ? !found : found
        case .text(let text):
            return candidate.description.lowercased() == text.lowercased()
        case .compatible(let version, let prefix):
            return candidate.publicVersion >= version
                && Self.hasPrefix(candidate, epoch: version.epoch, release: prefix)
        case .range(let lower, let upper):
            return candidate.publicVersion >= lower && Self.isBelow(candidate, upper)
        case .version(let version):
            switch op {
            case .equal, .notEqual:
                let found = version.local == nil ? candidate.publicVersion == version : candidate == version
                return op == .notEqual ? !found : found
            case .lessOrEqual:
                return candidate.publicVersion <= version
            case .greaterOrEqual:
                return candidate.publicVersion >= version
            case .less:
                return Self.isBelow(candidate, version)
            case .greater:
                guard candidate > version else { return false }
                if !version.isPostrelease && candidate.isPostrelease {
                    let base = Version(
                        epoch: candidate.epoch, release: candidate.release, pre: candidate.pre,
                        post: nil, dev: nil, local: nil)
                    if base == version { return false }
                }
                return !(candidate.local != nil && candidate.publicVersion == version)
            case .arbitrary, .compatible, .caret, .tilde:
                return false
            }
        }
    }
}
