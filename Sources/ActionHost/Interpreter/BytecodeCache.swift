import Foundation

/// Byte-compiles, once, the Python files of directories the engine owns (the
/// bundled package and the copies of stored driver versions), so each host
/// loads bytecode instead of compiling every module it imports (about 40 %
/// of a host's start). Hosts keep running with writing disabled: only the
/// engine writes bytecode, so an action can never leave its own in a
/// place another action imports from.
///
/// Compiling is `_flowrunner/precompile.py` on the host's interpreter; a
/// marker file per interpreter (`.flowrunner-bytecode-…`) records that a
/// directory is done, so later processes skip it. A directory that cannot be
/// written (a read-only install) is left as it is, and hosts compile in
/// memory as before; nothing fails because of this cache.
public actor BytecodeCache {
    /// The process's cache.
    public static let shared = BytecodeCache()

    /// Directories prepared (or being prepared) in this process, by interpreter and path.
    private var prepared: [String: Task<Void, Never>] = [:]

    /// Compiles `directory`'s Python files for `interpreter` unless that was
    /// done before; returns when they are compiled (or compiling failed).
    public func prepare(directory: String, interpreter: PythonInterpreter, pythonDirectory: String) async {
        let key = interpreter.path + "\u{0}" + directory
        if let task = prepared[key] { return await task.value }
        let task = Task { await Self.compile(directory: directory, interpreter: interpreter, pythonDirectory: pythonDirectory) }
        prepared[key] = task
        await task.value
    }

    private static func compile(directory: String, interpreter: PythonInterpreter, pythonDirectory: String) async {
        let marker = directory + "/.flowrunner-bytecode-" + String(interpreter.path.map { $0.isLetter || $0.isNumber ? $0 : "_" })
        if FileManager.default.fileExists(atPath: marker) || access(directory, W_OK) != 0 { return }
        let output = try? await PythonHelper.run("precompile", arguments: [directory], input: Data(), interpreter: interpreter,
                                                 pythonDirectory: pythonDirectory, purpose: "byte-compile \(directory)")
        if output?.status == 0 { _ = FileManager.default.createFile(atPath: marker, contents: Data()) }
    }
}
