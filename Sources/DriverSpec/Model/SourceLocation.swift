/// A position in a driver file: the file as it was named to the loader, and a
/// 1-based line and column. A column of 0 means "the whole line", a line of 0
/// "the whole file".
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file, as the loader was given it (e.g. `drivers/my-app/driver.styrmin.yml`).
    public var file: String
    /// 1-based line number, or 0 when the position is the whole file.
    public var line: Int
    /// 1-based column number, or 0 when the position is the whole line.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COL`, leaving out what is 0.
    public var description: String {
        if line == 0 { return file }
        if column == 0 { return "\(file):\(line)" }
        return "\(file):\(line):\(column)"
    }
}
