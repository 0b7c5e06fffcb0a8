import Foundation

/// An uploaded driver directory as a tar archive (gzip, bzip2, xz or
/// uncompressed; `POST /v1/drivers`), unpacked by the bundled
/// `_flowrunner/unpack.py` on the real interpreter: Python's `tarfile` reads
/// the format, and only regular files and directories with relative names
/// that stay inside the directory are written, at most 10,000 members and
/// 64 MiB unpacked (judged from the headers, so a compression bomb stops early).
public enum DriverArchive {
    /// What an unpacked archive holds.
    public struct Unpacked: Sendable, Hashable {
        /// The driver directory: `directory` itself, or its only subdirectory
        /// when the archive holds one top-level directory and nothing else
        /// (as `tar czf driver.tgz my-driver/` makes it).
        public var root: String
        /// How many files and bytes were written.
        public var files: Int
        public var bytes: Int
    }

    /// Unpacks `archive` into `directory` (which must exist and be empty).
    ///
    /// - Throws: ``ActionHostError/Code/refused`` with the reason (not a tar
    ///   archive, a link, a name with `..`, too large, no files) when the
    ///   archive is refused; ``ActionHostError/Code/spawnFailed`` when the
    ///   interpreter cannot run or its answer is not the helper's JSON.
    public static func unpack(
        _ archive: [UInt8], into directory: String, interpreter: PythonInterpreter, pythonDirectory: String
    ) async throws(ActionHostError) -> Unpacked {
        let output = try await PythonHelper.run("unpack", arguments: [directory], input: Data(archive), interpreter: interpreter,
                                                pythonDirectory: pythonDirectory, purpose: "unpack the driver archive")
        guard output.status == 0, let answer = try? JSONSerialization.jsonObject(with: output.stdout) as? [String: Any] else {
            throw ActionHostError(.spawnFailed, "the driver archive could not be unpacked (status \(output.status)): \(output.stderrTail)")
        }
        if let refusal = answer["error"] as? String {
            throw ActionHostError(.refused, refusal)
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var root = directory
        if entries.count == 1, let only = entries.first {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + only, isDirectory: &isDirectory), isDirectory.boolValue {
                root = directory + "/" + only
            }
        }
        return Unpacked(root: root, files: answer["files"] as? Int ?? 0, bytes: answer["bytes"] as? Int ?? 0)
    }
}
