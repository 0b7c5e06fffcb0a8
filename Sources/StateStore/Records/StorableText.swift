/// Text a store keeps holds no NUL: PostgreSQL's `text` cannot hold one and
/// SQLite (through GRDB) would cut the text there. Every store keeps a NUL of
/// a step's name or a log line as U+FFFD, so each reads back the same text,
/// and the engine compares calls by the name as stored.
public enum StorableText {
    /// `text` with each NUL replaced by U+FFFD.
    public static func storable(_ text: String) -> String {
        text.contains("\0") ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text
    }
}

extension NewStep {
    /// The step with its name as stores keep it (see ``StorableText``).
    public var storable: NewStep {
        var step = self
        step.name = StorableText.storable(name)
        return step
    }
}

extension NewLogLine {
    /// The line with its texts as stores keep them (see ``StorableText``).
    public var storable: NewLogLine {
        var line = self
        line.action = action.map(StorableText.storable)
        line.logger = StorableText.storable(logger)
        line.message = StorableText.storable(message)
        return line
    }
}
