import ActionHost
import Foundation

/// The interpreter and bundled package the engine's short-lived Python
/// helpers run on (the driver source check, the archive unpacker, the values
/// renderer): `python` when given, else `$FLOWRUNNER_PYTHON` or `python3` on `PATH`.
struct HelperPython {
    let interpreter: PythonInterpreter
    let pythonDirectory: String

    /// `cacheFile` remembers a shim's real interpreter (see ``PythonInterpreter``).
    ///
    /// - Throws: ``ActionHostError`` when no interpreter or bundled package is found.
    init(python: String?, cacheFile: String? = nil) throws(ActionHostError) {
        let environment = ProcessInfo.processInfo.environment
        interpreter = try PythonInterpreter.resolve(explicit: python, environment: environment, cacheFile: cacheFile)
        pythonDirectory = try HostResources.pythonDirectory(environment: environment)
    }
}
