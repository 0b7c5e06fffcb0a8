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
    /// - Throws: ``EngineError/Code/badInput`` when the directory is missing
    ///   or unreadable (its message names the path).
    public static func loadChecked(directory: String, python: String? = nil) async throws(EngineError) -> LoadedDriver {
        var driver: LoadedDriver
        do {
            driver = try DriverLoader.load(directory: directory)
        } catch {
            throw EngineError(.badInput, error.description, field: "path")
        }
        let files = driver.snapshot.files.map(\.path).filter { $0.hasSuffix(".py") }
        guard !files.isEmpty else { return driver }
        let prefix = String(driver.specFile.dropLast(driver.specFile.split(separator: "/").last?.count ?? 0))
        let location = SourceLocation(file: prefix.isEmpty ? directory : prefix)
        do {
            let environment = ProcessInfo.processInfo.environment
            let interpreter = try PythonInterpreter.resolve(explicit: python, environment: environment)
            let findings = try await PythonSourceCheck.run(
                interpreter: interpreter, pythonDirectory: try HostResources.pythonDirectory(environment: environment),
                directory: directory, files: files, displayPrefix: prefix
            )
            driver.diagnostics += findings.map { finding in
                Diagnostic(.error, at: SourceLocation(file: finding.file, line: finding.line, column: finding.column), finding.message)
            }
        } catch {
            driver.diagnostics.append(Diagnostic(.warning, at: location, "the Python files were not checked: \(error.reason)"))
        }
        return driver
    }
}
