import DriverSpec
import FlowRunner

extension DriverLoader {
    /// Loads a driver directory for a command with its Python files checked
    /// (``DriverCatalog/loadChecked(directory:python:)``); a missing or
    /// unreadable directory is bad input (exit 2).
    static func loadForCommand(_ directory: String, python: String? = nil) async throws -> LoadedDriver {
        do {
            return try await DriverCatalog.loadChecked(directory: directory, python: python)
        } catch {
            throw error.commandFailure
        }
    }
}
