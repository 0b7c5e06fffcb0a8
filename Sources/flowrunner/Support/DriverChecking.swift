import ActionHost
import DriverSpec
import Foundation

extension DriverLoader {
    /// Loads a driver directory for a command and checks its Python files on
    /// the real interpreter (``PythonSourceCheck``), so what would fail in a
    /// run fails now, with the file and line: a syntax error, a misspelt
    /// primitive import. A missing or unreadable directory is bad input
    /// (exit 2); a missing interpreter leaves a warning, not an error.
    static func loadForCommand(_ directory: String, python: String? = nil) async throws -> LoadedDriver {
        var driver: LoadedDriver
        do {
            driver = try load(directory: directory)
        } catch {
            throw CommandFailure.badInput(error.description)
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
