import Crypto
import FlowModel
import Foundation

/// One file of a driver directory.
public struct DriverFile: Sendable, Hashable {
    /// Path relative to the driver directory, `/`-separated.
    public var path: String
    /// The file's bytes.
    public var contents: [UInt8]

    /// Creates a file entry.
    public init(path: String, contents: [UInt8]) {
        self.path = path
        self.contents = contents
    }
}

/// An immutable copy of a driver directory: every file except caches
/// (`__pycache__`, `*.pyc`, VCS and tool caches), sorted by path, and the
/// SHA-256 digest over them. Two directories with the same files (paths and
/// bytes) have the same digest, wherever they are and whatever the file times.
///
/// The digest is SHA-256 over, for each file in path order: the UTF-8 path, a
/// 0 byte, the content length as 8 bytes big-endian, the content.
public struct DriverSnapshot: Sendable, Hashable {
    /// The files, sorted by path.
    public let files: [DriverFile]
    /// Lower-case hex SHA-256 of the files (see the type's documentation).
    public let digest: String

    /// Largest total size a driver directory may have (64 MiB).
    public static let maximumTotalSize = 64 << 20

    /// Names skipped wherever they appear: caches and VCS data.
    static let ignoredNames: Set<String> = [
        "__pycache__", ".git", ".hg", ".svn", ".pytest_cache", ".mypy_cache", ".ruff_cache",
        ".DS_Store", ".venv", ".tox", "node_modules",
    ]

    /// A snapshot of files already in memory (from the state store, an upload).
    public init(files: [DriverFile]) {
        let sorted = files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        var hasher = SHA256()
        for file in sorted {
            hasher.update(data: Array(file.path.utf8))
            hasher.update(data: [0])
            let count = UInt64(file.contents.count)
            hasher.update(data: (0..<8).map { UInt8(truncatingIfNeeded: count >> (56 - 8 * UInt64($0))) })
            hasher.update(data: file.contents)
        }
        self.files = sorted
        self.digest = ContentDigest.hex(hasher.finalize())
    }

    /// Reads every file below `directory`. Symbolic links to files are read
    /// through; links to directories are not followed (no cycles).
    public init(directory: String) throws(DriverDirectoryError) {
        var files: [DriverFile] = []
        var total = 0
        let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        try Self.collect(directory: directory, root: root, relative: "", into: &files, total: &total)
        self.init(files: files)
    }

    /// The file at `path` (relative, `/`-separated), if the snapshot has it.
    public func file(at path: String) -> DriverFile? {
        files.first { $0.path == path }
    }

    /// Writes the files below `directory` (created as needed), for running
    /// the driver's Python code from a stored snapshot.
    public func write(to directory: String) throws(DriverDirectoryError) {
        let manager = FileManager.default
        for file in files {
            let target = directory + "/" + file.path
            let parent = (target as NSString).deletingLastPathComponent
            do {
                try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
                try Data(file.contents).write(to: URL(fileURLWithPath: target))
            } catch {
                throw DriverDirectoryError(.unwritable, path: target, "cannot write driver file: \(error.localizedDescription)")
            }
        }
    }

    private static func ignored(_ name: String) -> Bool {
        ignoredNames.contains(name) || name.hasSuffix(".pyc") || name.hasSuffix(".pyo")
    }

    private static func collect(
        directory: String, root: String, relative: String, into files: inout [DriverFile], total: inout Int
    ) throws(DriverDirectoryError) {
        let manager = FileManager.default
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory)
        } catch {
            throw DriverDirectoryError(.unreadable, path: directory, "cannot list directory: \(error.localizedDescription)")
        }
        for name in names.sorted() where !ignored(name) {
            let path = directory + "/" + name
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { continue } // dangling link
            let isLink = (try? manager.destinationOfSymbolicLink(atPath: path)) != nil
            if isDirectory.boolValue {
                if !isLink { try collect(directory: path, root: root, relative: relativePath, into: &files, total: &total) }
                continue
            }
            // A link may name a file of the driver itself, never one outside it: the
            // loader reads as its own user and the file's contents reach the actions.
            if isLink, !URL(fileURLWithPath: path).resolvingSymlinksInPath().path.hasPrefix(root + "/") {
                throw DriverDirectoryError(.unreadable, path: path,
                                           "a symbolic link to a file outside the driver directory (a driver holds its own files: copy the file in)")
            }
            let data: Data
            do {
                data = try RegularFile.contents(atPath: path, maximumBytes: maximumTotalSize)
            } catch {
                throw DriverDirectoryError(.unreadable, path: path, "cannot read the file: it \(error.reason) (a driver holds regular files and directories)")
            }
            total += data.count
            if total > maximumTotalSize {
                throw DriverDirectoryError(.tooLarge, path: directory, "driver directory is larger than \(maximumTotalSize >> 20) MiB")
            }
            files.append(DriverFile(path: relativePath, contents: [UInt8](data)))
        }
    }
}

/// A driver directory that cannot be read or written.
public struct DriverDirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The path does not exist.
        public static let notFound = Code("notFound")
        /// The path exists but is not a directory.
        public static let notADirectory = Code("notADirectory")
        /// A file or directory could not be read.
        public static let unreadable = Code("unreadable")
        /// A file could not be written.
        public static let unwritable = Code("unwritable")
        /// The directory exceeds ``DriverSnapshot/maximumTotalSize``.
        public static let tooLarge = Code("tooLarge")
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// The path concerned.
    public var path: String
    /// What went wrong.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, path: String, _ reason: String) {
        self.code = code
        self.path = path
        self.reason = reason
    }

    /// `PATH: REASON`.
    public var description: String { "\(path): \(reason)" }
}
