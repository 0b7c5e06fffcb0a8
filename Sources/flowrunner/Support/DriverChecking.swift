import DriverSpec
import FlowRunner

extension DriverLoader {
    /// Loads a driver directory for a command with its Python files checked
    /// (``DriverCatalog/loadChecked(directory:python:)``); a missing or
    /// unreadable directory is bad input (exit 2).
    static func loadForCommand(
        _ directory: String, python: String? = nil, rendersValues: Bool = true, checksPython: Bool = true
    ) async throws -> LoadedDriver {
        do {
            return try await DriverCatalog.loadChecked(directory: directory, python: python, rendersValues: rendersValues, checksPython: checksPython)
        } catch {
            throw error.commandFailure
        }
    }
}
