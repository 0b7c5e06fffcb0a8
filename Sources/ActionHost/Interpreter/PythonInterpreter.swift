import FlowModel
import Foundation

/// The real Python interpreter the host runs on, resolved once.
///
/// `python3` on PATH may be a shell shim (pyenv, asdf) that costs tens of
/// milliseconds per start. Resolution: `--python` / `$FLOWRUNNER_PYTHON`
/// if given, else `python3` on PATH; a native executable is used as it is; a
/// script is run once to ask for `sys.executable`, and the answer is cached
/// (keyed by the shim's path and `$PYENV_VERSION`) so later starts skip it.
public struct PythonInterpreter: Sendable, Hashable {
    /// Absolute path of a native interpreter executable.
    public var path: String

    /// Uses `path` as it is.
    public init(path: String) {
        self.path = path
    }

    /// Resolves the interpreter (see the type's documentation).
    /// - Parameters:
    ///   - explicit: `--python`, if given.
    ///   - environment: the engine's environment (`PATH`, `FLOWRUNNER_PYTHON`, `PYENV_VERSION`).
    ///   - cacheFile: where to remember a shim's answer; nil to not cache.
    public static func resolve(
        explicit: String? = nil, environment: [String: String], cacheFile: String? = nil
    ) throws(ActionHostError) -> PythonInterpreter {
        let requested = explicit ?? environment["FLOWRUNNER_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        let candidate: String
        if let requested {
            guard let found = requested.contains("/") ? requested : search(requested, path: environment["PATH"]) else {
                throw ActionHostError(.interpreterNotFound, "the Python interpreter \"\(requested)\" was not found")
            }
            candidate = found
        } else {
            guard let found = search("python3", path: environment["PATH"]) else {
                throw ActionHostError(.interpreterNotFound, "no python3 on PATH; install Python 3.9+ or name one with --python or FLOWRUNNER_PYTHON")
            }
            candidate = found
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ActionHostError(.interpreterNotFound, "the Python interpreter \(candidate) is a directory; name the python3 executable, e.g. \(candidate)/bin/python3")
        }
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw ActionHostError(.interpreterNotFound, "the Python interpreter \(candidate) is not an executable file")
        }
        if isNativeExecutable(candidate) { return PythonInterpreter(path: candidate) }

        let key = candidate + "|" + (environment["PYENV_VERSION"] ?? "")
        if let cacheFile, let cached = readCache(cacheFile, key: key) { return PythonInterpreter(path: cached) }
        let real = try askForExecutable(candidate, environment: environment)
        if let cacheFile { writeCache(cacheFile, key: key, value: real) }
        return PythonInterpreter(path: real)
    }

    static func search(_ name: String, path: String?) -> String? {
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// True for an ELF or Mach-O binary (after following links), false for scripts.
    static func isNativeExecutable(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 4), header.count == 4 else { return false }
        let bytes = [UInt8](header)
        let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
        let machO: [[UInt8]] = [[0xCF, 0xFA, 0xED, 0xFE], [0xCE, 0xFA, 0xED, 0xFE], [0xCA, 0xFE, 0xBA, 0xBE]]
        return bytes == elf || machO.contains(bytes)
    }

    private static func askForExecutable(_ shim: String, environment: [String: String]) throws(ActionHostError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shim)
        process.arguments = ["-c", "import sys; print(sys.executable)"]
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ActionHostError(.interpreterNotFound, "cannot run \(shim) to find the real interpreter: \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let answer = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, answer.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: answer) else {
            throw ActionHostError(.interpreterNotFound, "\(shim) did not name a usable interpreter (exit status \(process.terminationStatus)); name one with --python or FLOWRUNNER_PYTHON")
        }
        return answer
    }

    private static func readCache(_ file: String, key: String) -> String? {
        guard let data = FileManager.default.contents(atPath: file),
              let value = try? JSONValue(jsonBytes: data), value["key"]?.stringValue == key,
              let path = value["path"]?.stringValue, FileManager.default.isExecutableFile(atPath: path) else { return nil }
        return path
    }

    private static func writeCache(_ file: String, key: String, value: String) {
        let directory = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let text = JSONValue.object(["key": .string(key), "path": .string(value)]).jsonText
        let temporary = file + ".\(getpid()).tmp"
        if FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) {
            _ = rename(temporary, file)
        }
    }
}

/// Where the bundled Python package (`styrmin_backend`, `prefect`, the host
/// program) lives: `$FLOWRUNNER_HOST_PYTHONPATH`, else the SwiftPM resource
/// bundle beside the running executable.
public enum HostResources {
    /// The resource bundle's name, as SwiftPM builds it on Linux.
    static let bundleName = "FlowRunner_ActionHost.resources"

    /// The directory holding `flowrunner_host.py`.
    public static func pythonDirectory(environment: [String: String]) throws(ActionHostError) -> String {
        var candidates: [String] = []
        if let override = environment["FLOWRUNNER_HOST_PYTHONPATH"], !override.isEmpty { candidates.append(override) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        var directory = (executable as NSString).deletingLastPathComponent
        for _ in 0..<4 where !directory.isEmpty && directory != "/" {
            candidates.append("\(directory)/\(bundleName)/python")
            candidates.append("\(directory)/FlowRunner_ActionHost.bundle/python")
            candidates.append("\(directory)/FlowRunner_ActionHost.bundle/Contents/Resources/python")
            directory = (directory as NSString).deletingLastPathComponent
        }
        if let resources = Bundle.main.resourcePath { candidates.append("\(resources)/\(bundleName)/python") }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/flowrunner_host.py") {
            return candidate
        }
        throw ActionHostError(.resourcesMissing,
            "the bundled Python package (\(bundleName)/python) was not found beside \(executable); keep it next to the flowrunner binary or set FLOWRUNNER_HOST_PYTHONPATH")
    }
}
