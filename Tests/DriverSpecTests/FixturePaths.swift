import Foundation

/// Paths of the repository's test data, found from this source file.
enum FixturePaths {
    /// The repository root.
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let fixtures = repository + "/Tests/DriverSpecTests/Fixtures"
    static let invalid = fixtures + "/invalid"
    static let valid = fixtures + "/valid"
    static let examples = repository + "/actions-examples"

    /// The fixture directories below `directory`, by name.
    static func children(of directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "/flowrunner-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ relativePath: String, _ text: String) throws {
        let target = path + "/" + relativePath
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true
        )
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
