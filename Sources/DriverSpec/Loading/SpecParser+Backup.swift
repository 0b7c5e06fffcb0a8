import FlowModel
import Yams

/// A component's `backup` block (the guide's "Step 4: Configure backups"):
/// its strategy, the settings the strategy reads, and the actions a
/// `kind: action` backup needs.
extension SpecParser {
    mutating func parseBackup(_ node: Node, _ path: String) -> BackupSpec? {
        guard let mapping = reader.mapping(node, path) else { return nil }
        var backup = BackupSpec(enabled: true, kind: nil, options: [:])
        for (key, value) in mapping {
            guard let name = reader.string(key, path) else { continue }
            switch name {
            case "enabled": backup.enabled = reader.bool(value, "\(path).enabled") ?? true
            case "kind":
                backup.kind = reader.nonEmptyString(value, "\(path).kind")
                if let kind = backup.kind, !BackupSpec.strategies.contains(kind) {
                    let hint = KeySuggestion.closest(to: kind, among: BackupSpec.strategies).map { " (did you mean \"\($0)\"?)" } ?? ""
                    reader.error("`\(path).kind`: unknown backup strategy \"\(kind)\"\(hint); expected one of \(BackupSpec.strategies.sorted().joined(separator: ", "))", at: value)
                }
            default: backup.options[name] = reader.value(value, "\(path).\(name)")
            }
        }
        if backup.enabled, backup.kind == nil {
            reader.error("`\(path)`: an enabled backup needs a `kind` (a backup strategy such as postgres, or action)", at: node)
        }
        if backup.enabled, let kind = backup.kind {
            checkBackupOptions(backup, kind: kind, path, mapping)
        }
        return backup
    }

    /// The settings each strategy reads (the guide's "Backups and restores"):
    /// a database dump needs `database_name` (neo4j defaults to `neo4j`) and
    /// may name its `host`; `disk` names `volume` or `volumes`.
    mutating func checkBackupOptions(_ backup: BackupSpec, kind: String, _ path: String, _ mapping: Node.Mapping) {
        func node(_ key: String) -> Node? { mapping.first { $0.key.string == key }?.value }
        let known: Set<String> = switch kind {
        case "postgres", "mariadb", "mongodb", "neo4j": ["database_name", "host", "volume", "volumes"]
        case "disk": ["volume", "volumes"]
        default: []
        }
        // A `kind: action` block may carry any settings for the driver's actions; a built-in strategy reads only its own.
        if !known.isEmpty {
            for (key, _) in mapping {
                guard let name = key.string, !["enabled", "kind"].contains(name), !known.contains(name) else { continue }
                let hint = KeySuggestion.closest(to: name, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                reader.warning("`\(path).\(name)`: the \(kind) strategy does not read this setting\(hint); it reads \(known.sorted().joined(separator: ", "))", at: key)
            }
        }
        switch kind {
        case "postgres", "mariadb", "mongodb", "neo4j":
            if kind != "neo4j", backup.options["database_name"] == nil {
                reader.error("`\(path)`: a \(kind) backup needs `database_name` (the database its dump reads)", at: mapping.first?.key)
            }
            for key in ["database_name", "host"] {
                if let value = backup.options[key], !Self.isPlainWord(value.stringValue) {
                    reader.error("`\(path).\(key)`: expected a name of letters, digits, '-', '_' or '.', found \(value)", at: node(key))
                }
            }
        case "disk":
            if backup.options["volume"] != nil, backup.options["volumes"] != nil {
                reader.error("`\(path)`: give `volume` or `volumes`, not both", at: node("volumes"))
            }
            if let volume = backup.options["volume"], !Self.isPlainWord(volume.stringValue) {
                reader.error("`\(path).volume`: expected a volume name, found \(volume)", at: node("volume"))
            }
            if let volumes = backup.options["volumes"] {
                let names = volumes.arrayValue?.map(\.stringValue) ?? [nil]
                if names.isEmpty || names.contains(where: { !Self.isPlainWord($0) }) {
                    reader.error("`\(path).volumes`: expected a list of volume names, found \(volumes)", at: node("volumes"))
                }
            }
        default:
            break
        }
    }

    /// A name that goes into a command line and an object name unquoted.
    static func isPlainWord(_ text: String?) -> Bool {
        // It starts with a letter or digit: "-x" would be read as an option of the dump tool.
        guard let text, let first = text.unicodeScalars.first, text.count <= 253,
              first.isASCII, first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// A component backed up by `kind: action` needs the driver's actions
    /// for both ways: one with `hook: backup` and one with `hook: restore`.
    mutating func checkBackupActions(_ components: [ComponentSpec], _ actions: [ActionSpec]) {
        for component in components where component.backup?.enabled == true && component.backup?.kind == "action" {
            for hook in [Hook.backup, .restore] where !actions.contains(where: { $0.hook == hook }) {
                reader.report(Diagnostic(.error, at: component.declaredAt,
                    "`spec.components.\(component.name).backup`: kind action needs an action with `hook: \(hook.rawValue)` in spec.actions (none is declared)"))
            }
        }
    }
}
