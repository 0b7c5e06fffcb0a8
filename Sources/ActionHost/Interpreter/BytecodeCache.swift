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
        collectSources(in: directory, relativeTo: directory.count + 1, into: &lines)
        return Data(lines.sorted().joined(separator: "\n").utf8)
    }

    /// Appends `relative path, size, modification time` of each `.py` file
    /// under `directory` (readdir, lstat: no Foundation file enumeration on
    /// every start, no following links), skipping `__pycache__`.
    private static func collectSources(in directory: String, relativeTo prefix: Int, into lines: inout [String]) {
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." || name == "__pycache__" { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                collectSources(in: path, relativeTo: prefix, into: &lines)
            } else if info.st_mode & S_IFMT == S_IFREG, name.hasSuffix(".py") {
                lines.append("\(path.dropFirst(prefix))\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
            }
        }
    }
}
