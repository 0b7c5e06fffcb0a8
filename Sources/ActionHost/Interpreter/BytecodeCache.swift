import Foundation

/// Byte-compiles, once, the Python files of directories the engine owns (the
/// bundled package and the copies of stored driver versions), so each host
/// loads bytecode instead of compiling every module it imports (about 40 %
/// of a host's start). Hosts keep running with writing disabled: only the
/// engine writes bytecode, so an action can never leave its own in a
/// place another action imports from.
///
/// Compiling is `_flowrunner/precompile.py` on the host's interpreter; a
/// marker file per interpreter (`.flowrunner-bytecode-…`) records which
/// sources a directory was compiled from (``fingerprint(of:)``), so later
/// processes skip it until they change. A directory that cannot be
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
        guard access(directory, W_OK) == 0 else { return }
        let sources = fingerprint(of: directory)
        if FileManager.default.contents(atPath: marker) == sources { return }
        let output = try? await PythonHelper.run("precompile", arguments: [directory], input: Data(), interpreter: interpreter,
                                                 pythonDirectory: pythonDirectory, purpose: "byte-compile \(directory)")
        if output?.status == 0 { _ = FileManager.default.createFile(atPath: marker, contents: sources) }
    }

    /// What the bytecode of `directory` was compiled from: each `.py` file's
    /// path, size and modification time (what a `.pyc` header records, PEP
    /// 552), in path order. Sources replaced in place (a reinstall, a copy)
    /// change it, so their bytecode is compiled again instead of every host
    /// compiling them in memory at each start.
    static func fingerprint(of directory: String) -> Data {
        var lines: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix("__pycache__") {
                enumerator?.skipDescendants()
                continue
            }
            guard path.hasSuffix(".py") else { continue }
            var info = stat()
            guard stat(directory + "/" + path, &info) == 0 else { continue }
            lines.append("\(path)\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
        }
        return Data(lines.sorted().joined(separator: "\n").utf8)
    }
}
