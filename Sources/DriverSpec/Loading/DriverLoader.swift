import Foundation
import Yams

/// A driver read from a directory or a stored snapshot: its files, the parsed
/// specification (nil when the spec is too broken to model) and every
/// finding, errors and warnings, in file order.
public struct LoadedDriver: Sendable {
    /// The files and their digest.
    public var snapshot: DriverSnapshot
    /// The spec file, as named in diagnostics (`DIR/driver.styrmin.yml`).
    public var specFile: String
    /// The parsed specification, when the structure allowed one.
    public var specification: DriverSpecification?
    /// Every finding.
    public var diagnostics: [Diagnostic]

    /// True when a specification was read and no finding is an error.
    public var isValid: Bool { specification != nil && diagnostics.errors.isEmpty }
}

/// Reads and validates drivers: the spec's YAML with source positions, its
/// structure and types, and the cross checks (duplicate names, component
/// references, action files and functions). All findings are collected in
/// one pass.
public enum DriverLoader {
    /// The spec file names looked for, in order.
    public static let specFileNames = ["driver.styrmin.yml", "driver.styrmin.yaml"]

    /// Loads the driver in `directory`.
    ///
    /// - Throws: ``DriverDirectoryError`` when the directory does not exist or
    ///   cannot be read. Everything wrong *inside* the driver is a diagnostic.
    public static func load(directory: String) throws(DriverDirectoryError) -> LoadedDriver {
        guard !directory.utf8.contains(0) else {
            throw DriverDirectoryError(.notFound, path: directory.replacingOccurrences(of: "\0", with: "\\0"),
                                       "no such directory (a path cannot hold a NUL character)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DriverDirectoryError(.notFound, path: directory, "no such directory")
        }
        guard isDirectory.boolValue else {
            throw DriverDirectoryError(.notADirectory, path: directory, "not a directory (expected a driver directory containing driver.styrmin.yml)")
        }
        let snapshot = try DriverSnapshot(directory: directory)
        return load(snapshot: snapshot, displayDirectory: directory)
    }

    /// Loads a driver from files in memory; `displayDirectory` prefixes the
    /// file names in diagnostics.
    public static func load(snapshot: DriverSnapshot, displayDirectory: String) -> LoadedDriver {
        let prefix = displayDirectory.hasSuffix("/") ? displayDirectory : displayDirectory + "/"
        guard let specEntry = specFileNames.lazy.compactMap({ snapshot.file(at: $0) }).first else {
            let message = "no driver spec: expected a file named \(specFileNames[0]) in the driver directory"
            return LoadedDriver(
                snapshot: snapshot, specFile: prefix + specFileNames[0], specification: nil,
                diagnostics: [Diagnostic(.error, at: SourceLocation(file: displayDirectory), message)]
            )
        }
        let specFile = prefix + specEntry.path
        guard let text = String(validating: specEntry.contents, as: UTF8.self) else {
            return LoadedDriver(
                snapshot: snapshot, specFile: specFile, specification: nil,
                diagnostics: [Diagnostic(.error, at: SourceLocation(file: specFile), "the spec is not valid UTF-8 text")]
            )
        }
        var (specification, diagnostics) = parse(yaml: text, file: specFile)
        if let specification {
            diagnostics += checkActionFiles(specification, snapshot: snapshot, prefix: prefix)
        }
        diagnostics.sort { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
        return LoadedDriver(snapshot: snapshot, specFile: specFile, specification: specification, diagnostics: diagnostics)
    }

    /// Parses spec text alone: syntax, structure and the checks that need no
    /// other file.
    public static func parse(yaml text: String, file: String) -> (DriverSpecification?, [Diagnostic]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return (nil, [syntaxDiagnostic(error, file: file)])
        } catch {
            return (nil, [Diagnostic(.error, at: SourceLocation(file: file), "YAML syntax error: \(error)")])
        }
        guard let root else {
            return (nil, [Diagnostic(.error, at: SourceLocation(file: file, line: 1, column: 1), "the spec is empty (expected apiVersion, kind, metadata and spec)")])
        }
        var parser = SpecParser(file: file)
        let specification = parser.parse(root)
        return (specification, parser.reader.diagnostics)
    }

    static func syntaxDiagnostic(_ error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let contextText = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return Diagnostic(.error, at: at(mark), "YAML syntax error: \(problem)\(contextText)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return Diagnostic(.error, at: at(context.mark), "duplicate key \(names) in one mapping (names must be unique)")
        case .reader(let problem, let offset, _, let yaml):
            var line = 1, column = 1
            if let offset {
                for scalar in yaml.unicodeScalars.prefix(offset) {
                    if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return Diagnostic(.error, at: SourceLocation(file: file, line: line, column: column), "YAML syntax error: \(problem)")
        default:
            return Diagnostic(.error, at: SourceLocation(file: file), "YAML syntax error: \(error)")
        }
    }

    /// Each action's `location` must name a Python file in the driver and a
    /// function that file defines at top level (found by scanning, not importing).
    private static func checkActionFiles(_ spec: DriverSpecification, snapshot: DriverSnapshot, prefix: String) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var scanned: [String: [String: Int]?] = [:]
        let hasPython = snapshot.files.contains { $0.path.hasSuffix(".py") }
        for action in spec.actions {
            let file = normalizedRelativePath(action.location.file)
            let label = "action \"\(action.name)\": location \"\(action.location)\""
            let at = action.locationAt ?? action.declaredAt
            guard let file else {
                diagnostics.append(Diagnostic(.error, at: at, "\(label): the file must be a relative path inside the driver directory"))
                continue
            }
            if scanned[file] == nil {
                scanned[file] = snapshot.file(at: file).map { entry in
                    PythonModuleScanner.topLevelNames(in: String(decoding: entry.contents, as: UTF8.self))
                }
            }
            guard let names = scanned[file] ?? nil else {
                let hint = hasPython ? "" : " (the spec declares actions but the driver has no actions file)"
                diagnostics.append(Diagnostic(.error, at: at, "\(label): file \(prefix)\(file) does not exist\(hint)"))
                continue
            }
            if names[action.location.function] == nil {
                let defined = names.keys.filter { !$0.hasPrefix("_") }.sorted()
                let found = defined.isEmpty ? "it defines no top-level names" : "top-level names: " + defined.prefix(12).joined(separator: ", ")
                diagnostics.append(Diagnostic(.error, at: at, "\(label): \(prefix)\(file) defines no function \"\(action.location.function)\" (\(found))"))
            }
        }
        return diagnostics
    }

    /// `./a/b.py` → `a/b.py`; nil for absolute paths or paths leaving the directory.
    static func normalizedRelativePath(_ path: String) -> String? {
        guard !path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": return nil
            default: parts.append(part)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}
