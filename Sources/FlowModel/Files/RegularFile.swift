public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a file named from outside (a driver spec, a fixture, a file of a
/// driver directory) without hanging or reading without bound: only regular
/// files are read (symbolic links followed), so a FIFO, socket or device
/// is refused by name instead of blocking the reader for ever.
public enum RegularFile {
    /// Why a file was not read.
    public struct ReadError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The path as given.
        public var path: String
        /// What is wrong, as a verb phrase: `is a FIFO (named pipe), not a
        /// regular file`, `does not exist`, `cannot be read ...`.
        public var reason: String

        /// `PATH: REASON`.
        public var description: String { "\(path): \(reason)" }
    }

    /// What kind of file is at `path` (following links), in words; nil for a regular file.
    ///
    /// - Throws: ``ReadError`` when nothing is there or it cannot be examined.
    public static func irregularKind(atPath path: String) throws(ReadError) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "does not exist" : "cannot be examined: " + String(cString: strerror(errno))
            throw ReadError(path: path, reason: reason)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR, S_IFBLK: return "a device"
        default: return "not a regular file"
        }
    }

    /// The bytes of the regular file at `path`.
    ///
    /// - Throws: ``ReadError`` for a missing, irregular, unreadable file or
    ///   one larger than `maximumBytes`.
    public static func contents(atPath path: String, maximumBytes: Int = 64 << 20) throws(ReadError) -> Data {
        if let kind = try irregularKind(atPath: path) {
            throw ReadError(path: path, reason: "is \(kind), not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReadError(path: path, reason: "cannot be read (check its permissions)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumBytes + 1) ?? Data()
        } catch {
            throw ReadError(path: path, reason: "cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maximumBytes else {
            throw ReadError(path: path, reason: "is larger than \(maximumBytes >> 20) MiB")
        }
        return data
    }
}
