/// An application version: PEP 440, plus plain semver spellings.
///
/// Parsing follows the PEP 440 grammar and normalisation rules (as implemented by
/// Python's `packaging` library): an optional leading `v`, an optional epoch `N!`,
/// a release segment of any length, an optional pre-release (`a`/`alpha`, `b`/`beta`,
/// `rc`/`c`/`pre`/`preview`), post-release (`post`/`rev`/`r`, or `-N`), development
/// release (`dev`) and local label (`+abc.5`). Separators `.`, `-`, `_` are accepted
/// where PEP 440 allows them, letters are case-insensitive, missing numbers are an
/// implicit `0`, leading zeros are dropped, and surrounding whitespace is ignored.
///
/// Semver spellings are PEP 440 spellings in most cases (`1.2.3-rc.1` is `1.2.3rc1`,
/// `1.0.0-alpha` is `1.0.0a0`, `1.0.0+build.5` has the local label `build.5`). When a
/// semver pre-release cannot be expressed in PEP 440 (`1.0.0-x.7.z.92`,
/// `2.0.0-snapshot`), it is still accepted, as an *extension*:
/// - it is a pre-release (``isPrerelease`` is `true`) of its release segment;
/// - among themselves such versions are ordered by semver rules (numeric identifiers
///   numerically, others lexically, numeric before alphanumeric, a shorter identifier
///   list before a longer one it prefixes);
/// - they sort after every PEP 440 pre-release (`a`, `b`, `rc`, and their post and dev
///   releases) of the same release and before the final release itself, so
///   `1.0rc9 < 1.0.0-snapshot < 1.0`;
/// - ``description`` keeps the semver form, lower-cased, e.g. `1.0.0-x.7.z.92`.
///
/// Where semver and PEP 440 disagree, PEP 440 wins: `1.0.0-1` is the post-release
/// `1.0.0.post1`. Numbers must fit in `Int`; larger ones are rejected.
///
/// Equality, hashing and ordering follow PEP 440: trailing zeros of the release do not
/// matter (`1 == 1.0 == 1.0.0`), `dev < a < b < rc < final < post`, and a version with a
/// local label sorts after the same public version without one.
public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// A pre-release tag.
    enum PreRelease: Sendable, Hashable {
        case alpha(Int)
        case beta(Int)
        case candidate(Int)
        /// A semver pre-release that PEP 440 cannot spell; see the type documentation.
        case semver([Label])
    }

    /// One dot-separated part of a local label or of a semver pre-release.
    enum Label: Sendable, Hashable, CustomStringConvertible {
        /// Decimal digits without leading zeros ("0" for zero); kept as text so that
        /// arbitrarily long numbers neither overflow nor lose precision.
        case number(String)
        /// Lower-case alphanumeric text (semver identifiers may also contain `-`).
        case text(String)

        var description: String {
            switch self {
            case .number(let digits): return digits
            case .text(let text): return text
            }
        }

        /// Numeric comparison of canonical digit strings.
        static func compareNumbers(_ lhs: String, _ rhs: String) -> Int {
            if lhs.utf8.count != rhs.utf8.count {
                return lhs.utf8.count < rhs.utf8.count ? -1 : 1
            }
            return lhs == rhs ? 0 : (lhs < rhs ? -1 : 1)
        }

        /// Compares two labels; `numbersFirst` decides whether a number sorts before
        /// (semver) or after (PEP 440 local labels) a text label.
        static func compare(_ lhs: Label, _ rhs: Label, numbersFirst: Bool) -> Int {
            switch (lhs, rhs) {
            case (.number(let l), .number(let r)):
                return compareNumbers(l, r)
            case (.text(let l), .text(let r)):
                return l == r ? 0 : (l < r ? -1 : 1)
            case (.number, .text):
                return numbersFirst ? -1 : 1
            case (.text, .number):
                return numbersFirst ? 1 : -1
            }
        }

        /// Lexicographic comparison of label lists, a proper prefix sorting first.
        static func compare(_ lhs: [Label], _ rhs: [Label], numbersFirst: Bool) -> Int {
            for (l, r) in zip(lhs, rhs) {
                let result = compare(l, r, numbersFirst: numbersFirst)
                if result != 0 { return result }
            }
            return Version.compareValues(lhs.count, rhs.count)
        }
    }

    /// The epoch (`N!` prefix); `0` when absent.
    public let epoch: Int
    /// The release segment exactly as written (after dropping leading zeros of each
    /// number), e.g. `[1, 0]` for `"1.0"`; never empty.
    public let release: [Int]
    /// The pre-release tag, if any.
    let pre: PreRelease?
    /// The post-release number, if any.
    let post: Int?
    /// The development release number, if any.
    let dev: Int?
    /// The local label parts, if any.
    let local: [Label]?

    /// Parses `text` as a PEP 440 version (or a semver spelling, see the type
    /// documentation) and normalises it.
    ///
    /// - Throws: ``VersionParseError`` whose `text` is the input and whose `reason`
    ///   says what was expected, when `text` is not a valid version.
    public init(_ text: String) throws(VersionParseError) {
        self = try VersionSyntax.parse(text)
    }

    /// Memberwise initialiser for values built by the parser or derived internally.
    init(epoch: Int, release: [Int], pre: PreRelease?, post: Int?, dev: Int?, local: [Label]?) {
        self.epoch = epoch
        self.release = release
        self.pre = pre
        self.post = post
        self.dev = dev
        self.local = local
    }

    /// `true` when the version has a pre-release or development-release segment
    /// (including semver-only pre-releases such as `2.0.0-snapshot`).
    public var isPrerelease: Bool {
        pre != nil || dev != nil
    }

    /// `true` when the version has a post-release segment.
    var isPostrelease: Bool {
        post != nil
    }

    /// The version without its local label.
    var publicVersion: Version {
        local == nil ? self : Version(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: nil)
    }

    /// The normalised PEP 440 spelling, e.g. `1.2.3rc1` or `1!2.0.post1.dev3+abc.5`;
    /// semver-only pre-releases keep their semver form, e.g. `1.0.0-x.7.z.92`.
    /// The release segment keeps the number of components that was written.
    public var description: String {
        var text = epoch == 0 ? "" : "\(epoch)!"
        text += release.map { String($0) }.joined(separator: ".")
        switch pre {
        case .none: break
        case .alpha(let n)?: text += "a\(n)"
        case .beta(let n)?: text += "b\(n)"
        case .candidate(let n)?: text += "rc\(n)"
        case .semver(let labels)?: text += "-" + labels.map(\.description).joined(separator: ".")
        }
        if let post { text += ".post\(post)" }
        if let dev { text += ".dev\(dev)" }
        if let local { text += "+" + local.map(\.description).joined(separator: ".") }
        return text
    }

    // MARK: Ordering

    /// Three-way comparison of two comparable values.
    static func compareValues<T: Comparable>(_ lhs: T, _ rhs: T) -> Int {
        lhs == rhs ? 0 : (lhs < rhs ? -1 : 1)
    }

    /// Rank of the pre-release part in the PEP 440 ordering:
    /// dev-only < a < b < rc < semver-only < no pre-release.
    private var preRank: Int {
        switch pre {
        case .none: return (post == nil && dev != nil) ? -1 : 4
        case .alpha?: return 0
        case .beta?: return 1
        case .candidate?: return 2
        case .semver?: return 3
        }
    }

    /// Three-way PEP 440 comparison: negative, zero or positive.
    static func compare(_ lhs: Version, _ rhs: Version) -> Int {
        var result = compareValues(lhs.epoch, rhs.epoch)
        if result != 0 { return result }

        let width = max(lhs.release.count, rhs.release.count)
        for index in 0..<width {
            let l = index < lhs.release.count ? lhs.release[index] : 0
            let r = index < rhs.release.count ? rhs.release[index] : 0
            if l != r { return l < r ? -1 : 1 }
        }

        result = compareValues(lhs.preRank, rhs.preRank)
        if result != 0 { return result }
        switch (lhs.pre, rhs.pre) {
        case (.alpha(let l)?, .alpha(let r)?), (.beta(let l)?, .beta(let r)?),
            (.candidate(let l)?, .candidate(let r)?):
            result = compareValues(l, r)
        case (.semver(let l)?, .semver(let r)?):
            result = Label.compare(l, r, numbersFirst: true)
        default:
            result = 0
        }
        if result != 0 { return result }

        // No post-release sorts before any post-release.
        result = compareValues(lhs.post ?? -1, rhs.post ?? -1)
        if result != 0 { return result }

        // A development release sorts before the same version without one.
        switch (lhs.dev, rhs.dev) {
        case (nil, nil): break
        case (nil, _?): return 1
        case (_?, nil): return -1
        case (let l?, let r?): if l != r { return l < r ? -1 : 1 }
        }

        switch (lhs.local, rhs.local) {
        case (nil, nil): return 0
        case (nil, _?): return -1
        case (_?, nil): return 1
        case (let l?, let r?): return Label.compare(l, r, numbersFirst: false)
        }
    }

    /// PEP 440 ordering; see the type documentation.
    public static func < (lhs: Version, rhs: Version) -> Bool {
        compare(lhs, rhs) < 0
    }

    /// PEP 440 equality: ignores trailing zeros of the release segment
    /// (`1.0 == 1.0.0 == 1`); the local label takes part (`1.0 != 1.0+abc`).
    public static func == (lhs: Version, rhs: Version) -> Bool {
        compare(lhs, rhs) == 0
    }

    /// Hashes the same components that ``==`` compares (trailing release zeros ignored).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        var significant = release.count
        while significant > 0 && release[significant - 1] == 0 {
            significant -= 1
        }
        hasher.combine(significant)
        for index in 0..<significant {
            hasher.combine(release[index])
        }
        hasher.combine(pre)
        hasher.combine(post)
        hasher.combine(dev)
        hasher.combine(local)
    }
}

/// The hand-written scanner behind ``Version/init(_:)``.
///
/// It mirrors the PEP 440 regular expression used by Python `packaging` (with its
/// possessive quantifiers), then falls back to the semver pre-release extension.
enum VersionSyntax {
    /// Why scanning failed.
    enum Failure: Error {
        case malformed
        case tooLarge(String)
    }

    /// The reason given for text that is not a version at all.
    static let expectation = "expected a version like 1.2.3 or 1.2.3rc1"

    /// Parses and normalises `text`; see ``Version/init(_:)``.
    static func parse(_ text: String) throws(VersionParseError) -> Version {
        var scalars = Substring(text).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        if scalars.isEmpty {
            throw VersionParseError(text: text, reason: expectation + ", got an empty string", subject: .version)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count)
        for scalar in scalars {
            guard scalar.isASCII else {
                throw VersionParseError(text: text, reason: expectation, subject: .version)
            }
            var byte = UInt8(truncatingIfNeeded: scalar.value)
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
            bytes.append(byte)
        }
        do throws(Failure) {
            var scanner = Scanner(bytes)
            if let version = try scanPEP440(&scanner) { return version }
            scanner = Scanner(bytes)
            if let version = try scanSemver(&scanner) { return version }
            throw Failure.malformed
        } catch {
            switch error {
            case .malformed:
                throw VersionParseError(text: text, reason: expectation, subject: .version)
            case .tooLarge(let digits):
                throw VersionParseError(text: text, reason: "the number \(digits) is too large", subject: .version)
            }
        }
    }

    /// A cursor over lower-cased ASCII bytes.
    struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }

        func peek(_ offset: Int = 0) -> UInt8? {
            let index = position + offset
            return index < bytes.count ? bytes[index] : nil
        }

        static func isDigit(_ byte: UInt8?) -> Bool {
            guard let byte else { return false }
            return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        }

        static func isAlphanumeric(_ byte: UInt8?) -> Bool {
            guard let byte else { return false }
            return isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
        }

        static func isSeparator(_ byte: UInt8?) -> Bool {
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }

        mutating func consume(_ character: Unicode.Scalar) -> Bool {
            guard peek() == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        /// Consumes one of `.`, `-`, `_` if present.
        mutating func consumeSeparator() {
            if Self.isSeparator(peek()) { position += 1 }
        }

        /// Consumes the first of `words` (tried in order) found at the cursor.
        mutating func consumeWord(_ words: [String]) -> String? {
            for word in words {
                let utf8 = Array(word.utf8)
                if position + utf8.count <= bytes.count
                    && bytes[position..<(position + utf8.count)].elementsEqual(utf8)
                {
                    position += utf8.count
                    return word
                }
            }
            return nil
        }

        /// Consumes a run of bytes satisfying `predicate`.
        mutating func run(while predicate: (UInt8) -> Bool) -> ArraySlice<UInt8> {
            let start = position
            while let byte = peek(), predicate(byte) { position += 1 }
            return bytes[start..<position]
        }

        /// Consumes a run of digits and returns its value, or `nil` if there is none.
        mutating func number() throws(Failure) -> Int? {
            let digits = run(while: { Self.isDigit($0) })
            if digits.isEmpty { return nil }
            var value = 0
            for digit in digits {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                if overflow1 || overflow2 {
                    throw .tooLarge(String(decoding: digits, as: UTF8.self))
                }
                value = sum
            }
            return value
        }
    }

    /// Turns a run of ASCII bytes into a label, canonicalising numbers.
    static func label(_ bytes: ArraySlice<UInt8>) -> Version.Label {
        if bytes.allSatisfy({ Scanner.isDigit($0) }) {
            let significant = bytes.drop(while: { $0 == UInt8(ascii: "0") })
            return .number(significant.isEmpty ? "0" : String(decoding: significant, as: UTF8.self))
        }
        return .text(String(decoding: bytes, as: UTF8.self))
    }

    /// `v`? followed by the release segment `N(.N)*`.
    static func scanRelease(_ s: inout Scanner) throws(Failure) -> [Int]? {
        guard let first = try s.number() else { return nil }
        var release = [first]
        while s.peek() == UInt8(ascii: "."), Scanner.isDigit(s.peek(1)) {
            s.position += 1
            guard let next = try s.number() else { return nil }
            release.append(next)
        }
        return release
    }

    /// An optional `+label([._-]label)*`, each label `[a-z0-9]+`, stored into `local`.
    /// Returns `false` when a `+` is not followed by a valid label.
    static func scanLocal(_ s: inout Scanner, into local: inout [Version.Label]?) -> Bool {
        guard s.consume("+") else { return true }
        let first = s.run(while: { Scanner.isAlphanumeric($0) })
        if first.isEmpty { return false }
        var labels = [label(first)]
        while Scanner.isSeparator(s.peek()), Scanner.isAlphanumeric(s.peek(1)) {
            s.position += 1
            labels.append(label(s.run(while: { Scanner.isAlphanumeric($0) })))
        }
        local = labels
        return true
    }

    /// The PEP 440 grammar; returns `nil` when the text does not match it.
    static func scanPEP440(_ s: inout Scanner) throws(Failure) -> Version? {
        _ = s.consume("v")

        var epoch = 0
        let beforeEpoch = s.position
        if let value = try s.number(), s.consume("!") {
            epoch = value
        } else {
            s.position = beforeEpoch
        }

        guard let release = try scanRelease(&s) else { return nil }

        var pre: Version.PreRelease?
        var mark = s.position
        s.consumeSeparator()
        if let word = s.consumeWord(["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            s.consumeSeparator()
            let number = try s.number() ?? 0
            switch word {
            case "alpha", "a": pre = .alpha(number)
            case "beta", "b": pre = .beta(number)
            default: pre = .candidate(number)
            }
        } else {
            s.position = mark
        }

        var post: Int?
        mark = s.position
        if s.consume("-"), let number = try s.number() {
            post = number
        } else {
            s.position = mark
            s.consumeSeparator()
            if s.consumeWord(["post", "rev", "r"]) != nil {
                s.consumeSeparator()
                post = try s.number() ?? 0
            } else {
                s.position = mark
            }
        }

        var dev: Int?
        mark = s.position
        s.consumeSeparator()
        if s.consumeWord(["dev"]) != nil {
            s.consumeSeparator()
            dev = try s.number() ?? 0
        } else {
            s.position = mark
        }

        var local: [Version.Label]?
        guard scanLocal(&s, into: &local), s.atEnd else { return nil }
        return Version(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: local)
    }

    /// The semver extension: `v? N(.N)* - ident(.ident)* (+local)?` with identifiers
    /// `[0-9a-z-]+`; returns `nil` when the text does not match it.
    static func scanSemver(_ s: inout Scanner) throws(Failure) -> Version? {
        _ = s.consume("v")
        guard let release = try scanRelease(&s), s.consume("-") else { return nil }
        var labels: [Version.Label] = []
        repeat {
            let identifier = s.run(while: { Scanner.isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
            if identifier.isEmpty { return nil }
            labels.append(label(identifier))
        } while s.consume(".")
        var local: [Version.Label]?
        guard scanLocal(&s, into: &local), s.atEnd else { return nil }
        return Version(epoch: 0, release: release, pre: .semver(labels), post: nil, dev: nil, local: local)
    }
}
