import ActionHost
public import DriverSpec
import Foundation

extension DriverCatalog {
    /// Loads a driver directory and checks its Python files on the real
    /// interpreter (``PythonSourceCheck``), so what would fail in a run
    /// fails now, with the file and line: a syntax error, a misspelt
    /// primitive import. The findings join the loader's diagnostics (one
    /// pass, every finding); a missing interpreter leaves a warning, not an
    /// error. Used by `drivers validate`/`load`, `dry-run` and `POST /v1/drivers`.
    ///
    /// - Parameters:
    ///   - directory: the driver directory (holding `driver.styrmin.yml`).
    ///   - python: an explicit interpreter, else `$FLOWRUNNER_PYTHON` or `python3` on `PATH`.
    ///   - rendersValues: whether `values.j2.yml` is rendered once with the
    ///     driver's defaults (``valuesFindings(_:displayPrefix:python:)``);
    ///     `render`, which renders it itself, skips that.
    ///   - checksPython: whether the Python files are checked (`render` needs only the spec and the template).
    /// - Throws: ``EngineError/Code/badInput`` when the directory is missing
    ///   or unreadable (its message names the path).
    public static func loadChecked(
        directory: String, python: String? = nil, rendersValues: Bool = true, checksPython: Bool = true
    ) async throws(EngineError) -> LoadedDriver {
        var driver: LoadedDriver
        do {
            driver = try DriverLoader.load(directory: directory)
        } catch {
            throw EngineError(.badInput, error.description, field: "path")
        }
        let files = driver.snapshot.files.map(\.path).filter { $0.hasSuffix(".py") }
        let prefix = String(driver.specFile.dropLast(driver.specFile.split(separator: "/").last?.count ?? 0))
        if !files.isEmpty, checksPython {
            do {
                let helper = try HelperPython(python: python)
                let findings = try await PythonSourceCheck.run(
                    interpreter: helper.interpreter, pythonDirectory: helper.pythonDirectory,
                    directory: directory, files: files, displayPrefix: prefix
                )
                driver.diagnostics += findings.map { finding in
                    Diagnostic(.error, at: SourceLocation(file: finding.file, line: finding.line, column: finding.column), finding.message)
                }
            } catch {
                let location = SourceLocation(file: prefix.isEmpty ? directory : prefix)
                driver.diagnostics.append(Diagnostic(.warning, at: location, "the Python files were not checked: \(error.reason)"))
            }
        }
        if rendersValues { driver.diagnostics += await valuesFindings(driver, displayPrefix: prefix, python: python) }
        return driver
    }

    /// Renders the driver's `values.j2.yml` once with its defaults (a
    /// deployment called `validate` at `default_version`), so a template
    /// syntax error, an undefined name or a result that is not a mapping is
    /// an error with its line now, not at the first hook. Without `jinja2`,
    /// or without defaults for every required parameter, a warning says the
    /// template was not rendered.
    static func valuesFindings(_ driver: LoadedDriver, displayPrefix: String, python: String?) async -> [Diagnostic] {
        guard driver.isValid, let spec = driver.specification, let template = HelmValues.template(of: driver.snapshot) else { return [] }
        let location = SourceLocation(file: displayPrefix + HelmValues.file)
        do {
            let context = try HelmValues.context(spec: spec, deployment: "validate", appVersion: nil, parameters: [:], config: [:])
            guard case .failure(let failure) = try await HelmValues.render(template, context: context, python: python) else { return [] }
            if failure.missingJinja2 {
                return [Diagnostic(.warning, at: location, "\(HelmValues.file) was not rendered: \(failure.diagnostic.message)")]
            }
            var finding = failure.diagnostic
            finding.location.file = displayPrefix + finding.location.file
            return [finding]
        } catch {
            return [Diagnostic(.warning, at: location, "\(HelmValues.file) was not rendered with the driver's defaults: \(error.message)")]
        }
    }

    /// Unpacks an uploaded driver archive (``DriverArchive``) into a fresh
    /// temporary directory, loads and checks it as ``loadChecked(directory:python:)``
    /// does, and removes the directory again. Diagnostics name the files
    /// inside the driver (`driver.styrmin.yml:3:5`), never the temporary path.
    ///
    /// - Throws: ``EngineError/Code/badInput`` (field `body`) when the archive
    ///   is refused (not a tar archive, damaged, a link, a name leaving the
    ///   directory, too large); ``EngineError/Code/failed`` when no
    ///   interpreter can unpack it.
    public static func loadCheckedArchive(_ archive: [UInt8], python: String? = nil) async throws(EngineError) -> LoadedDriver {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowrunner-upload-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw EngineError(.failed, "cannot make a directory to unpack the driver into: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let unpacked: DriverArchive.Unpacked
        do {
            let helper = try HelperPython(python: python)
            unpacked = try await DriverArchive.unpack(archive, into: directory, interpreter: helper.interpreter, pythonDirectory: helper.pythonDirectory)
        } catch where error.code == .refused {
            throw EngineError(.badInput, error.reason, field: "body")
        } catch {
            // No interpreter, or the helper broke: the server's fault, its details (paths) for the log only.
            throw EngineError(.failed, "the driver archive could not be unpacked: \(error.reason)")
        }
        var driver = try await loadChecked(directory: unpacked.root, python: python)
        let prefix = unpacked.root + "/"
        func inside(_ path: String) -> String { path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path == unpacked.root ? "." : path }
        driver.specFile = inside(driver.specFile)
        driver.diagnostics = driver.diagnostics.map { diagnostic in
            var diagnostic = diagnostic
            diagnostic.location.file = inside(diagnostic.location.file)
            diagnostic.message = diagnostic.message.replacingOccurrences(of: prefix, with: "").replacingOccurrences(of: unpacked.root, with: ".")
            return diagnostic
        }
        return driver
    }
}
